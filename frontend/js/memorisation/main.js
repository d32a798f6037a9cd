// The memorisation page: URL ⇄ state ⇄ controls, state → DoubleDescentRequest over the live
// socket, snapshots and the result → the loss and dimensionality plots against T. Clicking a T
// opens its model (GET /api/models/{id}?gram=false): W's columns and the training points' hidden
// vectors, side by side.

import { LiveClient, fetchJson, liveUrl } from "../api.js";
import { appendButton, appendControl, byId } from "../dom.js";
import { formatNumber } from "../format.js";
import {
  COLOURS,
  mean,
  renderSweepDimensions,
  weightedFeatureDimensionality,
  renderSweepLosses,
  renderVectors2d,
} from "../plots/double_descent.js";
import {
  failureText,
  formatDetail,
  loadLimits,
  setProgress,
  showError,
  showFinished,
} from "../status.js";
import {
  MEMO_PROPS,
  clampMemoState,
  parseMemoHash,
  serializeMemoState,
  toSweepRequest,
} from "./state.js";

/** Quiet time after the last control change before the request goes out, in ms. */
const DEBOUNCE_MS = 400;

/** The sidebar, in order: [prop, label, help]. */
const CONTROLS = [
  ["n_features", "Features n", "ARENA 3.0 uses 1,000, the paper 10,000 (slow on a CPU)."],
  ["n_hidden", "Hidden m", "2: the pictures below are the whole story."],
  ["p", "Feature probability p", "1 − S; inputs scaled to unit length."],
  ["t_min", "Smallest T", "Training-set sizes, log-spaced."],
  ["t_max", "Largest T", ""],
  ["points", "How many T", "Every T trains in one batch."],
  ["steps", "Steps", "Full-batch AdamW steps (weight decay 0.01)."],
  ["warmup_steps", "Warm-up steps", "Linear warm-up to lr, then cosine decay to 0."],
  ["lr", "Peak lr", ""],
  ["n_restarts", "Restarts", "Seeds per T; the lowest train loss is kept."],
  ["seed", "Seed", "Draws the weights and every training set."],
];

/**
 * Build the sidebar's inputs.
 * @param {HTMLElement} container
 * @param {(patch: Record<string, number>) => void} onChange
 * @param {() => void} onRecompute
 * @returns {(state: import("./state.js").MemorisationState) => void} shows a state in the inputs
 */
function buildControls(container, onChange, onRecompute) {
  const inputs = {};
  const fieldset = document.createElement("fieldset");
  fieldset.className = "group";
  fieldset.innerHTML = "<legend>Sweep</legend>";
  for (const [name, label, help] of CONTROLS) {
    const input = document.createElement("input");
    input.type = "number";
    input.step = "any";
    const prop = MEMO_PROPS.find((p) => p.name === name);
    input.min = String(prop?.min);
    input.max = String(prop?.max);
    input.id = name;
    input.addEventListener("change", () => onChange({ [name]: Number(input.value) }));
    appendControl(fieldset, label, input, help);
    inputs[name] = input;
  }
  container.append(fieldset);
  appendButton(container, {
    id: "recompute",
    className: "reset",
    text: "Recompute (train live)",
    onClick: onRecompute,
  });
  return (state) => {
    for (const [name, input] of Object.entries(inputs)) input.value = String(state[name]);
  };
}

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
    losses: byId("losses"),
    dimensions: byId("dimensions"),
    picked: byId("picked"),
    features: byId("features-2d"),
    hidden: byId("hidden-2d"),
    pickNote: byId("pick-note"),
  };
  const limits = await loadLimits(dom.error);
  if (limits === null) return;
  let state = parseMemoHash(window.location.hash, limits);
  const writeUrl = () => {
    const hash = `#${serializeMemoState(state)}`;
    if (window.location.hash !== hash) window.history.replaceState(null, "", hash);
  };
  writeUrl();

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

  const onMessage = (message) => {
    if (message.type === "snapshot") {
      sweep = message.sweep;
      showError(dom.error, "");
      setProgress(dom.progress, "training", { step: message.step, steps: message.steps });
      scheduleDraw();
    } else if (message.type === "done") {
      sweep = message.result;
      showError(dom.error, "");
      showFinished(dom.progress, sweep, `× ${sweep.points.length} training sets`);
      scheduleDraw();
      const T = selected ?? sweep.points[0]?.n_train ?? null;
      if (T !== null) void pick(T);
    } else if (message.type === "error") {
      showError(dom.error, `The server refused this sweep: ${formatDetail(message.detail)}`);
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
    liveUrl("/api/double-descent/live"),
  );

  const describe = () => {
    const values = toSweepRequest(state).n_train_values;
    dom.description.textContent =
      `${state.n_features} features → ${state.n_hidden} hidden dimensions, x′ = ReLU(WᵀWx + b), ` +
      `p = ${state.p}, unit-length inputs; T ∈ {${values.join(", ")}}; ${state.steps} full-batch ` +
      `steps (warm-up ${state.warmup_steps}, peak lr ${state.lr}), seed ${state.seed}.`;
  };
  let timer = 0;
  const send = (retrain) => {
    window.clearTimeout(timer);
    timer = 0;
    const request = toSweepRequest(state);
    selected = null;
    client.send(retrain ? { ...request, retrain: true } : request);
    setProgress(dom.progress, "queued", { steps: state.steps, text: "starting…" });
  };
  const showState = buildControls(
    dom.controls,
    (patch) => {
      const next = clampMemoState({ ...state, ...patch }, limits);
      showState(next);
      if (serializeMemoState(next) === serializeMemoState(state)) return;
      state = next;
      writeUrl();
      describe();
      window.clearTimeout(timer);
      timer = window.setTimeout(() => send(false), DEBOUNCE_MS);
    },
    () => send(true),
  );
  showState(state);
  describe();
  window.addEventListener("hashchange", () => {
    const next = parseMemoHash(window.location.hash, limits);
    if (serializeMemoState(next) === serializeMemoState(state)) return;
    state = next;
    showState(state);
    writeUrl();
    describe();
    send(false);
  });

  setProgress(dom.progress, "connecting", { text: "connecting…" });
  client.connect();
  send(false);
}

main().catch((err) => {
  const banner = document.getElementById("error");
  if (banner) showError(banner, `The page failed to start: ${err.message}`);
  throw err;
});
