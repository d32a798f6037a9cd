// The phase-diagram page: URL ⇄ state ⇄ controls, state → request over the live socket,
// snapshots and the result → four maps. Clicking a cell opens its model in the explorer.

import { byId } from "../dom.js";
import { PHASE_COLOURS, PHASE_NAMES, classesOf, renderPhaseMap, renderPhaseValues } from "../plots/phase.js";
import { layoutElements, liveResultClient, loadServerConfig, startLiveRuns, startPage } from "../page.js";
import { PHASE_PROPS, explorerUrl, toPhaseRequest } from "./state.js";

/** Quiet time after the last control change before the request goes out, in ms. */
const DEBOUNCE_MS = 300;

/**
 * The sidebar, in order (page.js's ControlSpec).
 * @type {ReadonlyArray<import("../page.js").ControlSpec>}
 */
const CONTROLS = [
  {
    name: "n_features",
    label: "Model",
    help: "2 → 1: the paper's first diagram; 3 → 2: its second.",
    options: [["2", "2 → 1"], ["3", "3 → 2"]],
  },
  { name: "grid_size", label: "Cells per axis", help: "Every cell × restarts trains in one batch." },
  { name: "p_first", label: "p, first column", help: "Feature probability (log axis); S = 1 − p." },
  { name: "p_last", label: "p, last column" },
  { name: "r_first", label: "r, first row", help: "The extra feature's importance (log axis)." },
  { name: "r_last", label: "r, last row" },
  {
    name: "n_restarts",
    label: "Restarts",
    help: "Seeds per cell, best kept; empty: automatic, the server's 3 (8 for n = 3).",
  },
  { name: "steps", label: "Steps", help: "AdamW steps (lr 0.01, batch 256)." },
  { name: "seed", label: "Seed" },
];

/**
 * Start the page.
 * @returns {Promise<void>}
 */
export async function main() {
  const dom = {
    ...layoutElements(),
    legend: byId("legend"),
    empirical: byId("empirical"),
    theory: byId("theory"),
    norm: byId("extra-norm"),
    superposition: byId("extra-superposition"),
  };
  const config = await loadServerConfig(dom.error);
  if (config === null) return; // every request would be refused: do not open the live socket
  const { limits } = config;

  /** @type {any} the diagram drawn now */
  let diagram = null;
  let frame = 0;
  const openCell = (x, y) => {
    if (!diagram) return;
    const p = diagram.feature_probability[x];
    const r = diagram.relative_importance[y];
    window.location.assign(explorerUrl(diagram.request, p, r));
  };
  const draw = () => {
    frame = 0;
    if (!diagram) return;
    renderPhaseMap(dom.empirical, diagram, "empirical", openCell);
    renderPhaseMap(dom.theory, diagram, "theory", openCell);
    renderPhaseValues(dom.norm, diagram, "extra_norm");
    renderPhaseValues(dom.superposition, diagram, "extra_superposition");
    dom.legend.replaceChildren(
      ...classesOf(diagram).map((c) => {
        const item = document.createElement("span");
        item.className = "legend-item";
        item.innerHTML = `<i style="background:${PHASE_COLOURS[c]}"></i>`;
        item.append(PHASE_NAMES[c] ?? c);
        return item;
      }),
    );
    const cells = diagram.feature_probability.length * diagram.relative_importance.length;
    dom.headline.innerHTML =
      `<span><span class="stat-name">agreement with theory</span> ` +
      `<span class="stat-value" data-stat="agreement">${(100 * diagram.agreement).toFixed(1)} %</span></span>` +
      `<span><span class="stat-name">cells</span> <span class="stat-value">${cells}</span></span>`;
  };
  const scheduleDraw = () => {
    if (!frame) frame = window.requestAnimationFrame(draw);
  };

  // The live socket: snapshots and the result redraw.
  const client = liveResultClient("/api/phase-diagrams/live", dom, {
    snapshotKey: "diagram",
    noun: "diagram",
    onResult: (result) => {
      diagram = result;
      scheduleDraw();
    },
  });

  /** @type {import("./state.js").PhaseState} the page controller's state, shown */
  let state;
  const describe = () => {
    const n = state.n_features;
    dom.description.textContent =
      `${n} features → ${n - 1} hidden dimension${n > 2 ? "s" : ""}, x′ = ReLU(WᵀWx + b); ` +
      `importances (${n === 3 ? "1, 1" : "1"}, r); ${state.grid_size} × ${state.grid_size} cells, ` +
      `${state.steps} steps, seed ${state.seed}.`;
  };
  // The shared page controller (page.js): URL hash ⇄ state, limits, debounce, the sidebar.
  startLiveRuns({
    client,
    dom,
    legend: "Diagram",
    fields: PHASE_PROPS,
    specs: CONTROLS,
    limits,
    debounceMs: DEBOUNCE_MS,
    toRequest: (next) => toPhaseRequest(/** @type {any} */ (next)),
    onState: (next) => {
      state = /** @type {any} */ (next);
      describe();
    },
  });
}

startPage(main);
