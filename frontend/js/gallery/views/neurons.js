// The gallery's neuron view (TMS §"Superposition in a Privileged Basis" and §"Computation in
// Superposition"): per instance the paper's stacked neuron bar plot. Neuron k is a column; each
// feature i adds a segment of height |W[k][i]|, above the axis when the weight is positive and
// below when negative; each neuron is marked monosemantic, polysemantic or dead.

import { range } from "../../plots/common.js";
import {
  KIND_COLOURS,
  LEGEND_FEATURES,
  MERGE_BELOW,
  REST_COLOUR,
  featureColour,
  renderNeuronBars,
} from "../../plots/neurons.js";
import { formatNumber } from "../../format.js";
import { captionOf, instanceGrid, viewState } from "../common.js";

/** A draw slower than this (ms) makes live updates wait; they then come at most every
 * SLOW_DRAW_GAP × its time. */
const SLOW_DRAW_MS = 120;
const SLOW_DRAW_GAP = 4;

/** @typedef {import("../../plots/neurons.js").NeuronInfo} NeuronInfo */

/**
 * The neurons of an instance, as the server classifies them (its neuron view, server/tms/
 * metrics.py: no maths here).
 * @param {any} instance
 * @returns {{neurons: NeuronInfo[], monosemanticShare: number, deadStrength: number}}
 * @throws {Error} when the instance has no neuron view (not a ReLU-hidden-layer model)
 */
function neuronInfo(instance) {
  const view = instance.neurons;
  if (!view || !Array.isArray(view.neurons)) throw new Error("the server sent no neuron view for this model");
  const neurons = view.neurons.map((/** @type {any} */ given, /** @type {number} */ k) => ({
    index: k,
    top: given.top_feature,
    share: given.top_share,
    kind: given.kind,
  }));
  return { neurons, monosemanticShare: Number(view.monosemantic_share), deadStrength: Number(view.dead_strength) };
}

/**
 * Neurons in the paper's order: by the importance of their top feature, most important first
 * (ties by that feature's index, then the neuron's); dead neurons last.
 * @param {NeuronInfo[]} neurons
 * @param {number[]} importance
 * @returns {NeuronInfo[]}
 */
function sortNeurons(neurons, importance) {
  const rank = (/** @type {NeuronInfo} */ n) => (n.kind === "dead" ? 1 : 0);
  return [...neurons].sort(
    (a, b) =>
      rank(a) - rank(b) ||
      (importance[b.top] ?? 0) - (importance[a.top] ?? 0) ||
      a.top - b.top ||
      a.index - b.index,
  );
}

/**
 * Whether a result is the absolute-value model (untied W_out), whose neurons are rescaled.
 * @param {any} result
 * @param {any} instance
 * @returns {boolean}
 */
function isAbsoluteValue(result, instance) {
  return result?.request?.task === "absolute_value" || Array.isArray(instance?.W_out);
}

/**
 * A legend swatch.
 * @param {string} colour
 * @param {string} text
 * @param {boolean} [round]
 * @returns {HTMLElement}
 */
function swatch(colour, text, round = false) {
  const item = document.createElement("span");
  item.className = "legend-item";
  const i = document.createElement("i");
  i.style.cssText =
    `display:inline-block;width:11px;height:11px;margin-right:4px;vertical-align:-1px;` +
    `background:${colour};border-radius:${round ? "50%" : "2px"}`;
  item.append(i, text);
  return item;
}

/**
 * The caption and legend over the plots.
 * @param {{text: HTMLElement, legend: HTMLElement}} caption
 * @param {any[]} results
 * @returns {void}
 */
function renderCaption({ text, legend }, results) {
  const first = results.find((r) => r?.instances?.length);
  const instance = first?.instances?.[0];
  if (!instance) {
    text.textContent = "";
    legend.replaceChildren();
    return;
  }
  const { monosemanticShare, deadStrength } = neuronInfo(instance);
  const n = instance.W?.[0]?.length ?? 0;
  const abs = isAbsoluteValue(first, instance);
  const readout = abs ? "W_out[:, k]" : "Wᵀ[:, k], the tied readout";
  text.textContent =
    "Each column is a hidden neuron k; each coloured segment is one feature's weight W_ki into " +
    "it, of height |W_ki|, above the axis when positive and below when negative. Neurons are " +
    "sorted by the importance of their largest feature, dead ones last (hover for the original " +
    "index k). " +
    (abs
      ? "Each neuron is rescaled so that its largest input weight |W_ki| is 1, as in the paper: " +
        "a hidden unit scaled by α on W and 1/α on W_out computes the same. "
      : "") +
    `Band above each neuron: monosemantic when one feature holds ≥ ` +
    `${formatNumber(100 * monosemanticShare)} % of the neuron's squared input weight Σᵢ W_ki²; ` +
    `polysemantic otherwise; dead when its strength ‖W[k, :]‖ · ‖${readout}‖ is below ` +
    `${formatNumber(deadStrength)}. Click a plot to open that model.`;
  const kinds = Object.entries(KIND_COLOURS).map(([kind, colour]) => swatch(colour, kind));
  let features;
  if (n <= LEGEND_FEATURES) {
    features = range(n).map((i) => swatch(featureColour(i, n), `feature ${i}`, true));
  } else {
    const ramp = document.createElement("span");
    ramp.className = "legend-item";
    const bar = document.createElement("i");
    const stops = range(5).map((j) => featureColour((j * (n - 1)) / 4, n));
    bar.style.cssText =
      "display:inline-block;width:90px;height:11px;margin:0 6px;vertical-align:-1px;border-radius:2px;" +
      `background:linear-gradient(to right, ${stops.join(", ")})`;
    ramp.append("feature 0", bar, `feature ${n - 1} (most → least important)`);
    const merged = `small weights merged (each < ${formatNumber(100 * MERGE_BELOW)} % of the plot's largest)`;
    features = [ramp, swatch(REST_COLOUR, merged)];
  }
  legend.replaceChildren(...kinds, ...features);
}

/**
 * "3 monosemantic, 2 polysemantic, 0 dead".
 * @param {NeuronInfo[]} neurons
 * @returns {string}
 */
function countText(neurons) {
  const count = (/** @type {string} */ kind) => neurons.filter((n) => n.kind === kind).length;
  return (
    `${count("monosemantic")} monosemantic, ${count("polysemantic")} polysemantic, ` +
    `${count("dead")} dead`
  );
}

/**
 * Fill (or refresh) `container` with one stacked neuron bar plot per instance of every request.
 * A live update that comes soon after a slow draw (40 neurons × 100 features × 7 instances) is
 * held back and drawn a little later, latest data only, so that the page stays responsive while
 * a big model trains; a final result (every entry has its `id`) is drawn at once.
 * @param {HTMLElement} container
 * @param {import("../views.js").ViewContext} ctx
 * @returns {void}
 */
export function renderNeurons(container, ctx) {
  const state = viewState(container, "neurons", () => ({
    ctx: /** @type {any} */ (null),
    cost: 0,
    drawnAt: 0,
    timer: 0,
  }));
  state.ctx = ctx;
  const results = Array.isArray(ctx?.results) ? ctx.results : [];
  const final = results.length > 0 && results.every((r) => typeof r?.id === "string");
  const wait = SLOW_DRAW_GAP * state.cost - (performance.now() - state.drawnAt);
  if (!final && state.cost > SLOW_DRAW_MS && wait > 0) {
    if (!state.timer) {
      state.timer = window.setTimeout(() => {
        state.timer = 0;
        if (container.isConnected) renderNeurons(container, state.ctx);
      }, wait);
    }
    return;
  }
  window.clearTimeout(state.timer);
  state.timer = 0;
  const started = performance.now();
  drawAll(container, state, results);
  state.drawnAt = performance.now();
  state.cost = state.drawnAt - started;
}

/**
 * Draw every instance (the body of {@link renderNeurons}).
 * @param {HTMLElement} container
 * @param {{ctx: any}} state
 * @param {any[]} results
 * @returns {void}
 */
function drawAll(container, state, results) {
  renderCaption(captionOf(container), results);
  instanceGrid(container, results, {
    onOpen: (r, k) => state.ctx?.openInstance?.(r, k),
    accept: (instance) => Array.isArray(instance?.W) && instance.W.length > 0,
    draw: ({ plot, summary }, instance, result) => {
      const { neurons } = neuronInfo(instance);
      const order = sortNeurons(neurons, instance.importance ?? []);
      renderNeuronBars(plot, instance.W, order, isAbsoluteValue(result, instance));
      summary.textContent = countText(neurons);
    },
  });
}
