// The gallery's learning-dynamics view (TMS §"Superposition and Learning Dynamics"): every
// feature's dimensionality Dᵢ through training over the loss curve, and a step slider (with
// play/pause) that replays the kept weight snapshots: ‖Wᵢ‖ coloured by superposition and the Dᵢ
// of that step. While the model trains live there are no snapshots yet: the current Dᵢ only.

import {
  moveStepMarker,
  renderDimensionalityHistogram,
  renderDimensionalityStrip,
  renderTrainingDynamics,
  renderNormsAtStep,
} from "../../plots/dynamics.js";
import { renderGram } from "../../plots/gram.js";
import { formatNumber } from "../../format.js";
import { slot, sparsityTitle, styledSlot, viewState } from "../common.js";
import { gramOf } from "../weights.js";

/** Snapshots advanced per second while playing. */
const PLAY_PER_SECOND = 5;

/** Fetched snapshots kept. */
const CACHE_SIZE = 40;

/** Snapshots fetched ahead of the slider while playing. */
const PREFETCH = 3;

/**
 * @typedef {object} StepWeights what the view keeps of one fetched snapshot (instance 0)
 * @property {number} step
 * @property {number[]} feature_norms
 * @property {number[]} superposition
 * @property {number[]} dimensionality
 * @property {number[][]} W n_hidden × n_features (WᵀW is computed from it where it is drawn)
 */

/**
 * @typedef {object} DynamicsState
 * @property {import("../views.js").ViewContext|null} ctx the latest context
 * @property {string|null} modelId whose snapshots `cache` holds
 * @property {any[]|null} drawn the snapshot list the big plot shows
 * @property {number} index the slider's snapshot
 * @property {number} timer the play interval, 0 when paused
 * @property {Map<number, StepWeights>} cache fetched snapshots, least recently used first
 * @property {Set<number>} failed snapshots whose fetch failed
 * @property {boolean} busy whether a snapshot is being fetched
 * @property {number} yMax the norm bars' fixed height: the largest ‖Wᵢ‖ of any snapshot
 * @property {Record<string, HTMLElement>|null} dom the elements of the latest render
 */

/**
 * @returns {DynamicsState}
 */
function initialState() {
  return {
    ctx: null,
    modelId: null,
    drawn: null,
    index: 0,
    timer: 0,
    cache: new Map(),
    failed: new Set(),
    busy: false,
    yMax: 1,
    dom: null,
  };
}

/**
 * The elements of the view, made on the first render.
 * @param {HTMLElement} container
 * @returns {Record<string, HTMLElement>}
 */
function skeleton(container) {
  const caption = styledSlot(container, "caption", "p", "margin:0 0 6px;");
  const note = slot(container, "note", "p", (el) => {
    el.className = "note";
  });
  const live = styledSlot(container, "live", "div", "width:100%;height:220px;");
  const replay = slot(container, "replay");
  const controls = styledSlot(replay, "controls", "div", "display:flex;align-items:center;gap:10px;flex-wrap:wrap;margin:4px 0;");
  const button = (/** @type {string} */ key, text = "") =>
    slot(controls, key, "button", (el) => {
      /** @type {HTMLButtonElement} */ (el).type = "button";
      el.className = "reset";
      el.style.cssText = "width:auto;margin:0;padding:3px 12px;";
      el.textContent = text;
    });
  const play = button("play");
  const slider = slot(controls, "slider", "input", (el) => {
    const input = /** @type {HTMLInputElement} */ (el);
    input.type = "range";
    input.min = "0";
    input.step = "1";
    input.setAttribute("aria-label", "training step");
    input.style.cssText = "flex:1 1 300px;accent-color:#c5221f;";
  });
  const stepText = styledSlot(controls, "step", "output", "font-variant-numeric:tabular-nums;min-width:15em;");
  const open = button("open", "Open the final model");
  const main = styledSlot(replay, "main", "div", "width:100%;height:440px;");
  const stepCaption = styledSlot(replay, "step-caption", "p", "margin:10px 0 2px;");
  const row = styledSlot(replay, "row", "div", "display:flex;gap:12px;flex-wrap:wrap;");
  // The three plots under the big one share the row's height.
  const [norms, hist, gram] = [
    ["norms", "flex:2 1 380px"],
    ["hist", "flex:1 1 240px"],
    ["gram", "flex:0 1 320px"],
  ].map(([key, flex]) => styledSlot(row, key, "div", `${flex};min-width:0;height:260px;`));
  const status = slot(replay, "status", "p", (el) => {
    el.className = "note";
  });
  return {
    caption, note, live, replay, play, slider, stepText, open, main, stepCaption, norms, hist, gram, status,
  };
}

/**
 * What the view keeps of a WeightSnapshot: instance 0's W, norms, superposition and Dᵢ.
 * @param {any} snapshot
 * @returns {StepWeights}
 */
function stepWeights(snapshot) {
  const inst = snapshot?.instances?.[0];
  if (!inst || !Array.isArray(inst.feature_norms)) throw new Error("the snapshot holds no instance");
  return {
    step: snapshot.step,
    feature_norms: inst.feature_norms,
    superposition: inst.superposition,
    dimensionality: inst.dimensionality,
    W: inst.W,
  };
}

/**
 * Keep a fetched snapshot, forgetting the least recently kept beyond {@link CACHE_SIZE}.
 * @param {DynamicsState} state
 * @param {number} index
 * @param {StepWeights} weights
 * @returns {void}
 */
function remember(state, index, weights) {
  state.cache.delete(index);
  state.cache.set(index, weights);
  for (const old of state.cache.keys()) {
    if (state.cache.size <= CACHE_SIZE) break;
    state.cache.delete(old);
  }
}

/**
 * Draw a fetched snapshot's weights: the norm bars and WᵀW.
 * @param {DynamicsState} state
 * @param {Record<string, HTMLElement>} dom
 * @param {StepWeights} w
 * @returns {void}
 */
function drawWeights(state, dom, w) {
  renderNormsAtStep(dom.norms, w, state.yMax);
  // WᵀW from W each time (n² m: 0.8 M products for 200 features in 20 dimensions), not kept.
  if (Array.isArray(w.W) && w.W.length) renderGram(dom.gram, gramOf({ W: w.W }));
  dom.status.textContent = "";
}

/**
 * The snapshot to fetch next, or −1: the slider's, else (while playing) the next few ahead.
 * @param {DynamicsState} state
 * @returns {number}
 */
function nextToFetch(state) {
  const count = state.drawn?.length ?? 0;
  const last = state.timer ? Math.min(count - 1, state.index + PREFETCH) : state.index;
  for (let i = state.index; i <= last; i += 1) {
    if (!state.cache.has(i) && !state.failed.has(i)) return i;
  }
  return -1;
}

/**
 * Fetch snapshots one at a time, always the one the slider stands on first: a fast scrub asks
 * for the step it ends on, not every step it passed. An answer for a step the slider has left is
 * kept but not drawn.
 * @param {HTMLElement} container
 * @param {DynamicsState} state
 * @param {Record<string, HTMLElement>} dom
 * @returns {void}
 */
function pump(container, state, dom) {
  const id = state.modelId;
  const fetchJson = state.ctx?.fetchJson;
  if (state.busy || !id || typeof fetchJson !== "function" || !container.isConnected) return;
  const i = nextToFetch(state);
  if (i < 0) return;
  state.busy = true;
  Promise.resolve()
    .then(() => fetchJson(`/api/models/${id}/snapshots/${i}?gram=false`))
    .then(stepWeights)
    .then(
      (w) => {
        if (state.modelId !== id) return; // another model now
        remember(state, i, w);
        if (state.index === i && state.dom === dom) drawWeights(state, dom, w);
      },
      (err) => {
        if (state.modelId !== id) return;
        state.failed.add(i);
        if (state.index === i && state.dom === dom) {
          pause(state, dom);
          dom.status.textContent = `Could not load the weights of snapshot ${i + 1}: ${err?.message ?? err}`;
        }
      },
    )
    .finally(() => {
      state.busy = false;
      if (state.dom) pump(container, state, state.dom);
    });
}

/**
 * Stop playing.
 * @param {DynamicsState} state
 * @param {Record<string, HTMLElement>} dom
 * @returns {void}
 */
function pause(state, dom) {
  if (state.timer) window.clearInterval(state.timer);
  state.timer = 0;
  dom.play.textContent = "▶ Play";
  dom.play.setAttribute("aria-pressed", "false");
}

/**
 * Move the replay to snapshot `index`: slider, step text, the marker on the big plot and the Dᵢ
 * histogram now (the summaries hold them), the norm bars and WᵀW once the snapshot is fetched.
 * @param {HTMLElement} container
 * @param {DynamicsState} state
 * @param {Record<string, HTMLElement>} dom
 * @param {number} index
 * @returns {void}
 */
function showStep(container, state, dom, index) {
  const snapshots = state.drawn;
  if (!snapshots || !snapshots.length) return;
  const i = Math.min(Math.max(0, Math.round(index)), snapshots.length - 1);
  state.index = i;
  const summary = snapshots[i];
  const total = snapshots[snapshots.length - 1].step;
  /** @type {HTMLInputElement} */ (dom.slider).value = String(i);
  dom.stepText.textContent =
    `step ${summary.step} of ${total} · snapshot ${i + 1}/${snapshots.length}` +
    ` · D* = ${formatNumber(summary.dimensions_per_feature?.[0])}`;
  moveStepMarker(dom.main, summary.step);
  renderDimensionalityHistogram(dom.hist, summary.dimensionality?.[0] ?? []);
  const cached = state.cache.get(i);
  if (cached) {
    remember(state, i, cached);
    drawWeights(state, dom, cached);
  } else if (!state.modelId || typeof state.ctx?.fetchJson !== "function") {
    dom.status.textContent = "This result has no model id: its weights cannot be replayed.";
  } else if (state.failed.has(i)) {
    dom.status.textContent = `Could not load the weights of snapshot ${i + 1}.`;
  } else {
    dom.status.textContent = `loading the weights of step ${summary.step}…`;
  }
  pump(container, state, dom);
}

/**
 * Start playing from the slider (from the start when it stands at the end).
 * @param {HTMLElement} container
 * @param {DynamicsState} state
 * @param {Record<string, HTMLElement>} dom
 * @returns {void}
 */
function play(container, state, dom) {
  const count = state.drawn?.length ?? 0;
  if (count < 2) return;
  if (state.index >= count - 1) state.index = 0;
  dom.play.textContent = "❚❚ Pause";
  dom.play.setAttribute("aria-pressed", "true");
  state.timer = window.setInterval(() => {
    const n = state.drawn?.length ?? 0;
    if (!container.isConnected || state.index >= n - 1) {
      pause(state, dom);
      return;
    }
    showStep(container, state, dom, state.index + 1);
  }, 1000 / PLAY_PER_SECOND);
  showStep(container, state, dom, state.index);
}

/**
 * Hook up the controls (once per container).
 * @param {HTMLElement} container
 * @param {DynamicsState} state
 * @param {Record<string, HTMLElement>} dom
 * @returns {void}
 */
function wireControls(container, state, dom) {
  if (dom.slider.dataset.wired) return;
  dom.slider.dataset.wired = "1";
  dom.play.textContent = "▶ Play";
  dom.play.addEventListener("click", () => {
    if (state.timer) pause(state, dom);
    else play(container, state, dom);
  });
  dom.slider.addEventListener("input", () => {
    pause(state, dom);
    showStep(container, state, dom, Number(/** @type {HTMLInputElement} */ (dom.slider).value));
  });
  dom.open.addEventListener("click", () => {
    const r = Number(dom.open.dataset.request ?? 0);
    state.ctx?.openInstance?.(r, 0);
  });
}

/**
 * The live mode: no snapshots yet, the current Dᵢ of the first model as a strip.
 * @param {Record<string, HTMLElement>} dom
 * @param {any} result
 * @returns {void}
 */
function renderLive(dom, result) {
  dom.replay.hidden = true;
  const instance = result?.instances?.[0];
  if (!instance) {
    dom.live.hidden = true;
    dom.note.textContent = "Waiting for the model…";
    return;
  }
  dom.caption.textContent =
    `Training live (${sparsityTitle(instance.feature_probability)}): each dot is a feature's ` +
    `dimensionality Dᵢ = ‖Wᵢ‖² / Σⱼ (Ŵᵢ·Wⱼ)² now; dashed lines mark the fractions of the ` +
    `uniform polytopes (1, 3/4, 2/3, 1/2, 2/5, 3/8).`;
  dom.note.textContent =
    result?.request?.snapshots > 0
      ? "The replay of Dᵢ through training appears when training finishes."
      : "This request keeps no weight snapshots (snapshots = 0): there will be no replay.";
  dom.live.hidden = false;
  renderDimensionalityStrip(dom.live, instance.dimensionality ?? []);
}

/**
 * Fill (or refresh) `container` with the learning-dynamics view of the first result that has
 * weight snapshots, or, while none has them, the live Dᵢ of the first result.
 * @param {HTMLElement} container
 * @param {import("../views.js").ViewContext} ctx
 * @returns {void}
 */
export function renderDynamics(container, ctx) {
  const state = viewState(container, "dynamics", initialState);
  state.ctx = ctx;
  const dom = skeleton(container);
  if (state.dom && state.dom.play !== dom.play) {
    // The shell emptied the container: the old elements (and their plots) are gone.
    pause(state, state.dom);
    state.drawn = null;
  }
  state.dom = dom;
  wireControls(container, state, dom);
  const results = Array.isArray(ctx?.results) ? ctx.results : [];
  const r = results.findIndex((res) => Array.isArray(res?.snapshots) && res.snapshots.length > 0);
  if (r < 0) {
    pause(state, dom);
    state.drawn = null;
    renderLive(dom, results[0]);
    return;
  }
  const result = results[r];
  const snapshots = /** @type {any[]} */ (result.snapshots);
  dom.live.hidden = true;
  dom.replay.hidden = false;
  dom.open.dataset.request = String(r);
  const instance = result.instances?.[0];
  const more = (result.instances?.length ?? 0) > 1 ? " (its first instance)" : "";
  dom.caption.textContent =
    `Each line is one feature's dimensionality Dᵢ = ‖Wᵢ‖² / Σⱼ (Ŵᵢ·Wⱼ)² through training` +
    `${more}, ${instance ? sparsityTitle(instance.feature_probability) : ""}; its colour is the ` +
    `feature's final Dᵢ. Dashed: the fractions of the uniform polytopes (1 dedicated, 3/4 ` +
    `tetrahedron, 2/3 triangle, 1/2 digon, 2/5 pentagon, 3/8 square antiprism). Below, the ` +
    `training loss (log scale) on the same steps. In the paper, features jump between these ` +
    `levels rather than slide, and the loss drops a little at each jump.`;
  dom.note.textContent = "";
  dom.stepCaption.textContent =
    "The weights at the slider's step: each feature's norm ‖Wᵢ‖, coloured by its superposition " +
    "Σⱼ≠ᵢ (Ŵᵢ·Wⱼ)² (black: orthogonal to every other feature; yellow: sharing its direction), " +
    "how many features have each Dᵢ, and WᵀW (entry (i, j) is Wᵢ·Wⱼ: red +, blue −).";
  const id = result.id ?? null;
  if (state.modelId !== id) {
    state.cache.clear();
    state.failed.clear();
    state.modelId = id;
  }
  const slider = /** @type {HTMLInputElement} */ (dom.slider);
  slider.max = String(snapshots.length - 1);
  if (state.drawn !== snapshots || !(/** @type {any} */ (dom.main).data)) {
    const fresh = state.drawn === null;
    state.drawn = snapshots;
    if (fresh) state.index = snapshots.length - 1; // open on the trained model
    state.index = Math.min(state.index, snapshots.length - 1);
    state.yMax =
      1.05 * Math.max(1e-6, ...snapshots.map((snap) => Math.max(0, ...(snap.feature_norms?.[0] ?? [0]))));
    renderTrainingDynamics(dom.main, snapshots, result.loss_history ?? [], snapshots[state.index].step);
  }
  showStep(container, state, dom, state.index);
}
