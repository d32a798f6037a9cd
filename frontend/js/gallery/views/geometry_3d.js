// The gallery's 3-D geometry view: with three hidden dimensions, every instance's feature
// directions W[:, i] in a 3-D scene the user turns (TMS §"Uniform Superposition": the m = 3
// polyhedra), with the feature-geometry graph's edges by |Ŵᵢ·Wⱼ|. A result with weight snapshots
// (TMS §"Learning as Geometric Transformations") also gets a step slider that replays them in 3-D
// over its loss curve, where the geometry's regimes are marked.

import { markReplayStep, renderReplayLoss } from "../../plots/dynamics.js";
import { drawGeometry3d } from "../../plots/geometry3d.js";
import { dimensionSummary, slot, sparsityTitle, styledSlot, pruneSlots, viewState } from "../common.js";
import { regimeStarts } from "../../maths.js";

/** Side of one 3-D plot, in px. */
const PLOT_PX = 360;

/** One colour per feature set; features in no set keep their own colour. */
const SET_COLOURS = Object.freeze(["#d62728", "#1f5fb4", "#2ca02c", "#ff7f0e"]);

/**
 * Colours by feature set when the request has sets (else undefined: one colour per feature).
 * @param {any} request
 * @param {number} n
 * @returns {string[]|undefined}
 */
function setColours(request, n) {
  const sets = Array.isArray(request?.feature_sets) ? request.feature_sets : [];
  if (sets.length === 0) return undefined;
  const colours = Array(n).fill("#80868b");
  sets.forEach((set, s) => {
    for (const i of set.features) if (i < n) colours[i] = SET_COLOURS[s % SET_COLOURS.length];
  });
  return colours;
}

/**
 * Hover lines: each feature's Dᵢ (and its set).
 * @param {any} instance
 * @param {any} request
 * @returns {string[]}
 */
function hoverLines(instance, request) {
  const n = instance.W[0].length;
  const sets = Array.isArray(request?.feature_sets) ? request.feature_sets : [];
  return Array.from({ length: n }, (_, i) => {
    const d = Number(instance.dimensionality?.[i]);
    const set = sets.findIndex((s) => s.features.includes(i));
    return `D<sub>i</sub> = ${Number.isFinite(d) ? d.toFixed(3) : "–"}` + (set >= 0 ? `, set ${set}` : "");
  });
}

/**
 * The replay: a step slider over the kept snapshots of request `r`, its weights drawn in 3-D, and
 * the loss curve with the regimes' starts as dashed lines and the shown step as a red one.
 * @param {HTMLElement} box
 * @param {any} result a ModelResult with snapshots
 * @param {any} state the view's state
 * @returns {void}
 */
function renderReplay(box, result, state) {
  const snaps = result.snapshots;
  const title = styledSlot(box, "title", "h4", "margin:8px 0 4px;font-size:14px;");
  title.textContent = "Replay through training (instance 0): drag the slider, turn the scene. Loss: the training batch's (light) and its running median; dashed: where a new geometry (rounded Dᵢ) sets in.";
  const row = styledSlot(box, "row", "div", "display:flex;flex-wrap:wrap;gap:12px;align-items:flex-start;");
  const scene = styledSlot(row, "scene", "div", `width:${PLOT_PX + 60}px;height:${PLOT_PX + 60}px;border:1px solid #eceff3;`);
  const loss = styledSlot(row, "loss", "div", "width:480px;height:300px;");
  const controls = styledSlot(box, "controls", "div", "display:flex;gap:8px;align-items:center;margin:6px 0;");
  const slider = slot(controls, "slider", "input", (el) => {
    const input = /** @type {HTMLInputElement} */ (el);
    input.type = "range";
    input.min = "0";
    input.step = "1";
    input.style.width = "420px";
    input.setAttribute("aria-label", "snapshot");
    input.addEventListener("input", () => showSnapshot(state, Number(input.value)));
  });
  const label = styledSlot(controls, "label", "span", "font-variant-numeric:tabular-nums;font-size:13px;");
  const input = /** @type {HTMLInputElement} */ (slider);
  input.max = String(snaps.length - 1);
  state.replay = { id: result.id, snaps, scene, loss, label, input, request: result.request };
  const starts = regimeStarts(snaps);
  const history = Array.isArray(result.loss_history) ? result.loss_history : [];
  state.replay.shapes = renderReplayLoss(
    loss,
    history,
    starts.map((k) => snaps[k].step),
  );
  const index = snaps.length - 1; // a new replay opens on the trained model
  input.value = String(index);
  showSnapshot(state, index);
}

/**
 * Fetch snapshot `index` and draw it (its step marked on the loss curve).
 * @param {any} state
 * @param {number} index
 * @returns {void}
 */
function showSnapshot(state, index) {
  const replay = state.replay;
  const fetchJson = state.ctx?.fetchJson;
  if (!replay || typeof fetchJson !== "function") return;
  const snap = replay.snaps[index];
  replay.label.textContent = `step ${snap.step} (${index + 1}/${replay.snaps.length}) · ${dimensionSummary(snap.dimensionality[0])}`;
  markReplayStep(replay.loss, replay.shapes, snap.step);
  replay.wanted = index;
  fetchJson(`/api/models/${replay.id}/snapshots/${index}?gram=false`)
    .then((weights) => {
      if (state.replay !== replay || replay.wanted !== index) return;
      const W = weights.instances[0].W;
      drawGeometry3d(replay.scene, W, {
        uirevision: "geometry3d-replay",
        colours: setColours(replay.request, W[0].length),
        reach: 1.6,
        legend: false,
      });
    })
    .catch((err) => {
      replay.label.textContent = `Could not load snapshot ${index + 1}: ${err?.message ?? err}`;
    });
}

/**
 * Fill (or refresh) `container`: a 3-D scene per instance with three hidden dimensions, and a
 * replay when a result kept snapshots.
 * @param {HTMLElement} container
 * @param {import("../views.js").ViewContext} ctx
 * @returns {void}
 */
export function renderGeometry3d(container, ctx) {
  const state = viewState(container, "geometry_3d", () => ({ ctx: /** @type {any} */ (null), replay: null }));
  state.ctx = ctx;
  const results = Array.isArray(ctx?.results) ? ctx.results : [];
  const caption = slot(container, "caption", "p", (el) => {
    el.style.margin = "0 0 6px";
  });
  caption.textContent =
    "Each line is a feature's direction W[:, i] in the three hidden dimensions, its point " +
    "labelled with its index; grey edges join features that interfere, darker and thicker for " +
    "larger |Ŵᵢ·Wⱼ| (the paper's feature-geometry graph); the dotted circles are the unit " +
    "sphere. Drag a scene to turn it. Under each, the features' dimensionalities " +
    "Dᵢ = ‖Wᵢ‖² / Σⱼ (Ŵᵢ·Wⱼ)², rounded and counted: 3/4 tetrahedron, 2/3 triangle, 1/2 " +
    "antipodal pair, 3/8 square antiprism, 1 a dedicated dimension.";
  const grid = styledSlot(container, "grid", "div", "display:flex;flex-wrap:wrap;gap:12px 14px;align-items:flex-start;");
  const keep = new Set();
  results.forEach((result, r) => {
    (result?.instances ?? []).forEach((instance, k) => {
      if (!Array.isArray(instance?.W) || instance.W.length !== 3) return;
      const key = `${r}-${k}`;
      keep.add(key);
      const fig = slot(grid, key, "figure", (el) => {
        el.style.cssText = `margin:0;width:${PLOT_PX}px;`;
        el.dataset.key = key;
      });
      const title = styledSlot(fig, "title", "figcaption", "font-size:12.5px;font-weight:600;text-align:center;");
      const plot = styledSlot(fig, "plot", "div", `width:${PLOT_PX}px;height:${PLOT_PX}px;border:1px solid #eceff3;`);
      plot.classList.add("geometry-3d");
      const summary = styledSlot(fig, "summary", "div", "font-size:12px;color:#5f6368;text-align:center;font-variant-numeric:tabular-nums;");
      const open = slot(fig, "open", "button", (el) => {
        el.textContent = "open this model";
        el.className = "open-instance";
        el.addEventListener("click", () => {
          const [ri, ki] = key.split("-").map(Number);
          state.ctx?.openInstance?.(ri, ki);
        });
      });
      open.style.cssText = "display:block;margin:4px auto 0;font-size:12px;";
      const n = instance.W[0].length;
      title.textContent = `n = ${n} features, ${sparsityTitle(instance.feature_probability)}`;
      drawGeometry3d(plot, instance.W, {
        uirevision: `geometry3d-${key}`,
        colours: setColours(result.request, n),
        hover: hoverLines(instance, result.request),
        legend: false,
      });
      summary.textContent = dimensionSummary(instance.dimensionality ?? []);
    });
  });
  pruneSlots(grid, keep);
  const empty = slot(container, "empty", "p", (el) => {
    el.className = "note";
  });
  const waiting = results.length === 0 || results.some((r) => (r?.instances ?? []).length === 0);
  empty.textContent = waiting ? "Waiting for the model…" : "This view draws models with 3 hidden dimensions.";
  empty.hidden = keep.size > 0;
  const replayed = results.find((r) => Array.isArray(r?.snapshots) && r.snapshots.length > 1 && r.id);
  const box = slot(container, "replay");
  box.hidden = !replayed;
  if (replayed && state.replay?.id !== replayed.id) renderReplay(box, replayed, state);
}
