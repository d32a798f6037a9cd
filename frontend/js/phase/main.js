// The phase-diagram page: URL ⇄ state ⇄ controls, state → request over the live socket,
// snapshots and the result → four maps. Clicking a cell opens its model in the explorer.

import { LiveClient, liveUrl } from "../api.js";
import { appendButton, byId } from "../dom.js";
import { PHASE_COLOURS, PHASE_NAMES, classesOf, renderPhaseMap, renderPhaseValues } from "../plots/phase.js";
import { controlGroup, createPage, loadServerConfig, startPage } from "../page.js";
import { formatDetail, setProgress, showError, showFinished } from "../status.js";
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
    controls: byId("controls"),
    progress: byId("progress"),
    error: byId("error"),
    headline: byId("headline"),
    description: byId("description"),
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

  const onMessage = (message) => {
    if (message.type === "snapshot") {
      diagram = message.diagram;
      showError(dom.error, "");
      setProgress(dom.progress, "training", { step: message.step, steps: message.steps });
      scheduleDraw();
    } else if (message.type === "done") {
      diagram = message.result;
      showError(dom.error, "");
      showFinished(dom.progress, diagram);
      scheduleDraw();
    } else if (message.type === "error") {
      showError(dom.error, `The server refused this diagram: ${formatDetail(message.detail)}`);
      setProgress(dom.progress, "error", { text: "error" });
    }
  };
  const client = new LiveClient(
    {
      onMessage,
      onStatus: (status) => {
        if (status === "closed") setProgress(dom.progress, "offline", { text: "offline" });
      },
    },
    liveUrl("/api/phase-diagrams/live"),
  );

  const describe = () => {
    const n = state.n_features;
    dom.description.textContent =
      `${n} features → ${n - 1} hidden dimension${n > 2 ? "s" : ""}, x′ = ReLU(WᵀWx + b); ` +
      `importances (${n === 3 ? "1, 1" : "1"}, r); ${state.grid_size} × ${state.grid_size} cells, ` +
      `${state.steps} steps, seed ${state.seed}.`;
  };
  /** Send the state's request (or, retrain, train it afresh although it is cached). */
  const send = (/** @type {boolean} */ retrain) => {
    const request = toPhaseRequest(page.state);
    client.send(retrain ? { ...request, retrain: true } : request);
    setProgress(dom.progress, "queued", { steps: page.state.steps, text: "starting…" });
  };
  // The shared page controller (page.js): URL hash ⇄ state, limits, debounce.
  const page = createPage({
    fields: PHASE_PROPS,
    limits,
    debounceMs: DEBOUNCE_MS,
    onShow: (next) => {
      state = /** @type {any} */ (next);
      showState(state);
      describe();
    },
    onRun: (next) => {
      state = /** @type {any} */ (next);
      send(false);
    },
  });
  let state = /** @type {import("./state.js").PhaseState} */ (/** @type {unknown} */ (page.state));
  const showState = controlGroup(dom.controls, "Diagram", PHASE_PROPS, CONTROLS, limits, (patch) => page.change(patch));
  appendButton(dom.controls, { id: "recompute", className: "reset", text: "Recompute (train live)", onClick: () => send(true) });
  showState(state);
  describe();

  setProgress(dom.progress, "connecting", { text: "connecting…" });
  client.connect();
  page.runNow();
}

startPage(main);
