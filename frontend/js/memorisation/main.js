// The memorisation page, on the shared page controller (page.js): URL ⇄ state ⇄ controls,
// state → DoubleDescentRequest over the live socket, snapshots and the result → the loss and
// dimensionality plots against T. Clicking a T opens its model (GET /api/models/{id}?gram=false): W's columns and the training points' hidden
// vectors, side by side.

import { fetchJson } from "../api.js";
import { byId } from "../dom.js";
import { formatNumber } from "../format.js";
import {
  COLOURS,
  mean,
  renderSweepDimensions,
  weightedFeatureDimensionality,
  renderSweepLosses,
  renderVectors2d,
} from "../plots/double_descent.js";
import { layoutElements, liveResultClient, loadServerConfig, startLiveRuns, startPage } from "../page.js";
import { failureText } from "../status.js";
import { MEMO_PROPS, normaliseMemo, toSweepRequest } from "./state.js";

/** Quiet time after the last control change before the request goes out, in ms. */
const DEBOUNCE_MS = 400;

/**
 * The sidebar, in order (page.js's ControlSpec).
 * @type {ReadonlyArray<import("../page.js").ControlSpec>}
 */
const CONTROLS = [
  { name: "n_features", label: "Features n", help: "ARENA 3.0 uses 1,000, the paper 10,000 (slow on a CPU)." },
  { name: "n_hidden", label: "Hidden m", help: "2: the pictures below are the whole story." },
  { name: "p", label: "Feature probability p", help: "1 − S; inputs scaled to unit length." },
  { name: "t_min", label: "Smallest T", help: "Training-set sizes, log-spaced." },
  { name: "t_max", label: "Largest T" },
  { name: "points", label: "How many T", help: "Every T trains in one batch." },
  { name: "steps", label: "Steps", help: "Full-batch AdamW steps (weight decay 0.01)." },
  { name: "warmup_steps", label: "Warm-up steps", help: "Linear warm-up to lr, then cosine decay to 0." },
  { name: "lr", label: "Peak lr" },
  { name: "n_restarts", label: "Restarts", help: "Seeds per T; the lowest train loss is kept." },
  { name: "seed", label: "Seed", help: "Draws the weights and every training set." },
];

/**
 * Start the page.
 * @returns {Promise<void>}
 */
export async function main() {
  const dom = {
    ...layoutElements(),
    losses: byId("losses"),
    dimensions: byId("dimensions"),
    picked: byId("picked"),
    features: byId("features-2d"),
    hidden: byId("hidden-2d"),
    pickNote: byId("pick-note"),
  };
  const config = await loadServerConfig(dom.error);
  if (config === null) return; // every request would be refused: do not open the live socket
  const { limits } = config;
  /** @type {import("./state.js").MemorisationState} the page controller's state, shown */
  let state;

  /** @type {any} the sweep drawn now */
  let sweep = null;
  /** @type {number|null} the T whose model is shown */
  let selected = null;
  let frame = 0;
  let pickToken = 0;

  const pick = async (T) => {
    if (!sweep) return;
    const point = sweep.points.find((p) => p.n_train === T);
    if (!point) return;
    selected = T;
    dom.picked.dataset.t = String(T);
    scheduleDraw();
    if (!sweep.final) {
      dom.pickNote.textContent = `T = ${T}: its model opens once the sweep has finished training.`;
      return;
    }
    const token = (pickToken += 1);
    dom.pickNote.textContent = `T = ${T}: loading its model…`;
    let model;
    try {
      model = await fetchJson(`/api/models/${point.model_id}?gram=false`);
    } catch (err) {
      if (token === pickToken) dom.pickNote.textContent = `Could not load T = ${T}'s model: ${failureText(err)}`;
      return;
    }
    if (token !== pickToken) return;
    const instance = model.instances[0];
    const columns = instance.W[0].map((_, i) => instance.W.map((row) => row[i]));
    renderVectors2d(dom.features, columns, { colour: COLOURS.features, label: "feature" });
    renderVectors2d(dom.hidden, instance.hidden_train ?? [], { colour: COLOURS.points, label: "point" });
    const dataD = mean(instance.data_dimensionality ?? []);
    const featureD = weightedFeatureDimensionality({
      ...point,
      feature_dimensionality: [instance.dimensionality],
      feature_norms: [instance.feature_norms],
    });
    dom.picked.dataset.loaded = String(T);
    dom.pickNote.textContent =
      `T = ${T}: train loss ${formatNumber(instance.train_loss)}, test loss ${formatNumber(instance.loss)}; ` +
      `mean data-point D_t ${formatNumber(dataD)} (a regular T-gon gives 2/T = ${formatNumber(2 / T)}), ` +
      `features' Dᵢ (‖Wᵢ‖²-weighted) ${formatNumber(featureD)}.` +
      (model.request.n_hidden > 2 ? " Only the first two hidden dimensions are drawn." : "");
  };

  const draw = () => {
    frame = 0;
    if (!sweep) return;
    const options = { selected, onPick: (T) => void pick(T) };
    renderSweepLosses(dom.losses, sweep.points, options);
    renderSweepDimensions(dom.dimensions, sweep.points, options);
    const peak = sweep.peak_n_train;
    dom.headline.innerHTML =
      `<span><span class="stat-name">test-loss peak at T =</span> ` +
      `<span class="stat-value" data-stat="peak">${peak ?? "–"}</span></span>` +
      `<span><span class="stat-name">training sets</span> <span class="stat-value">${sweep.points.length}</span></span>`;
  };
  const scheduleDraw = () => {
    if (!frame) frame = window.requestAnimationFrame(draw);
  };

  // The live socket: snapshots and the result redraw; the finished sweep opens a T's model.
  const client = liveResultClient("/api/double-descent/live", dom, {
    snapshotKey: "sweep",
    noun: "sweep",
    finishedWhat: (result) => `× ${result.points.length} training sets`,
    onResult: (result, final) => {
      sweep = result;
      scheduleDraw();
      if (!final) return;
      const T = selected ?? sweep.points[0]?.n_train ?? null;
      if (T !== null) void pick(T);
    },
  });

  const describe = () => {
    const values = toSweepRequest(state).n_train_values;
    dom.description.textContent =
      `${state.n_features} features → ${state.n_hidden} hidden dimensions, x′ = ReLU(WᵀWx + b), ` +
      `p = ${state.p}, unit-length inputs; T ∈ {${values.join(", ")}}; ${state.steps} full-batch ` +
      `steps (warm-up ${state.warmup_steps}, peak lr ${state.lr}), seed ${state.seed}.`;
  };
  // The shared page controller (page.js): URL hash ⇄ state, limits, debounce, the sidebar.
  startLiveRuns({
    client,
    dom,
    legend: "Sweep",
    fields: MEMO_PROPS,
    specs: CONTROLS,
    limits,
    debounceMs: DEBOUNCE_MS,
    normalise: normaliseMemo,
    toRequest: (next) => toSweepRequest(/** @type {any} */ (next)),
    onState: (next) => {
      state = /** @type {any} */ (next);
      describe();
    },
    onSend: () => {
      selected = null;
    },
  });
}

startPage(main);
