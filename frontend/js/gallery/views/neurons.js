// The gallery's neuron view (TMS §"Superposition in a Privileged Basis" and §"Computation in
// Superposition"): per instance the paper's stacked neuron bar plot. Neuron k is a column; each
// feature i adds a segment of height |W[k][i]|, above the axis when the weight is positive and
// below when negative; each neuron is marked monosemantic, polysemantic or dead.

import { CONFIG, Plotly, colourAt, range } from "../../plots/common.js";
import { formatNumber } from "../../format.js";
import { captionOf, instanceGrid, viewState } from "../common.js";

/** Feature index → colour: feature 0 (the most important) dark, the last light (viridis). */
const FEATURE_SCALE = Object.freeze([
  [0, "#440154"],
  [0.25, "#3b528b"],
  [0.5, "#21918c"],
  [0.75, "#5ec962"],
  [1, "#d8d21c"],
]);

/** Each neuron kind's colour, and its faint background behind the neuron's bars. */
const KIND_COLOURS = Object.freeze({
  monosemantic: "#3c8d5a",
  polysemantic: "#e8a33d",
  dead: "#bdc1c6",
});

/** The server's thresholds (server/tms/metrics.py), for a neuron view that lacks them. */
const DEFAULT_MONOSEMANTIC_SHARE = 0.9;
const DEFAULT_DEAD_STRENGTH = 0.05;

/** Segments smaller than this share of the plot's largest |weight| are left out (under 1 px). */
const SMALLEST_SEGMENT = 0.005;

/** With more features than {@link LEGEND_FEATURES}, weights below this share of a plot's
 * largest are merged, per neuron and side, into one grey segment. */
const MERGE_BELOW = 0.04;

/** The merged small weights' colour. */
const REST_COLOUR = "#c7ccd3";

/** A draw slower than this (ms) makes live updates wait; they then come at most every
 * SLOW_DRAW_GAP × its time. */
const SLOW_DRAW_MS = 120;
const SLOW_DRAW_GAP = 4;

/** Up to this many features get a legend swatch each; more get a colour ramp (and merging). */
const LEGEND_FEATURES = 12;

/**
 * @typedef {object} NeuronInfo one neuron as the plot needs it
 * @property {number} index its original index k
 * @property {number} top its largest feature
 * @property {number} share that feature's share of Σᵢ W_ki²
 * @property {"monosemantic"|"polysemantic"|"dead"} kind
 */

/**
 * The neurons of an instance: the server's neuron view, or (when it has none) the same rules
 * computed here: strength ‖W row k‖ · ‖readout column k‖ (W_out, or Wᵀ when tied).
 * @param {any} instance
 * @returns {{neurons: NeuronInfo[], monosemanticShare: number, deadStrength: number}}
 */
function neuronInfo(instance) {
  const W = /** @type {number[][]} */ (instance.W);
  const view = instance.neurons;
  const monosemanticShare = Number(view?.monosemantic_share ?? DEFAULT_MONOSEMANTIC_SHARE);
  const deadStrength = Number(view?.dead_strength ?? DEFAULT_DEAD_STRENGTH);
  const neurons = W.map((row, k) => {
    const given = view?.neurons?.[k];
    if (given) return { index: k, top: given.top_feature, share: given.top_share, kind: given.kind };
    const squares = row.map((w) => w * w);
    const total = squares.reduce((a, b) => a + b, 0);
    const top = squares.indexOf(Math.max(...squares));
    const readout = Array.isArray(instance.W_out)
      ? Math.hypot(...instance.W_out.map((/** @type {number[]} */ r) => r[k]))
      : Math.sqrt(total);
    const strength = Math.sqrt(total) * readout;
    const share = total > 0 ? squares[top] / total : 0;
    /** @type {NeuronInfo["kind"]} */
    const kind =
      strength < deadStrength ? "dead" : share >= monosemanticShare ? "monosemantic" : "polysemantic";
    return { index: k, top, share, kind };
  });
  return { neurons, monosemanticShare, deadStrength };
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
 * The colour of feature i of n. With many features the index goes in through a square root, so
 * that the important (low-index) features, the ones neurons hold first, get distinct colours.
 * @param {number} i
 * @param {number} n
 * @returns {string}
 */
function featureColour(i, n) {
  const t = n > 1 ? i / (n - 1) : 0;
  return colourAt(FEATURE_SCALE, n > LEGEND_FEATURES ? Math.sqrt(t) : t);
}

/**
 * The plot's width for m neurons, in px.
 * @param {number} m
 * @returns {number}
 */
function plotWidth(m) {
  return Math.min(560, Math.max(240, 110 + 11 * m));
}

/**
 * The bars: one trace for every segment (plotly.js stacks the bars of one trace that share a
 * position, and one trace draws far faster than a trace per feature). Feature 0 sits next to the
 * axis. With many features, each neuron's small weights (below {@link MERGE_BELOW} of the plot's
 * largest) are merged into one grey segment per side: 40 neurons × 100 features would otherwise
 * be thousands of slivers per plot, unreadable and too slow to redraw on every live update.
 * @param {number[][]} values the weights to draw, row k = neuron k
 * @param {number[][]} W the raw weights (for the hover)
 * @param {NeuronInfo[]} order the neurons in drawing order
 * @param {boolean} rescaled
 * @returns {object[]}
 */
function barTraces(values, W, order, rescaled) {
  const n = W[0]?.length ?? 0;
  const biggest = Math.max(1e-12, ...values.map((row) => Math.max(0, ...row.map(Math.abs))));
  const merge = n > LEGEND_FEATURES ? MERGE_BELOW * biggest : 0;
  const colours = range(n).map((i) => featureColour(i, n));
  const x = [];
  const y = [];
  const colour = [];
  const custom = [];
  const weight = rescaled ? "W<sub>ki</sub> (rescaled)" : "W<sub>ki</sub>";
  order.forEach((neuron, pos) => {
    const row = values[neuron.index];
    const rest = { pos: 0, neg: 0, countPos: 0, countNeg: 0 };
    for (let i = 0; i < n; i += 1) {
      const v = row[i];
      const size = Math.abs(v);
      if (size < SMALLEST_SEGMENT * biggest) continue;
      if (size < merge) {
        if (v > 0) {
          rest.pos += v;
          rest.countPos += 1;
        } else {
          rest.neg += v;
          rest.countNeg += 1;
        }
        continue;
      }
      x.push(pos);
      y.push(v);
      colour.push(colours[i]);
      const raw = rescaled ? `<br>W<sub>ki</sub> = ${formatNumber(W[neuron.index][i])}` : "";
      custom.push(
        `neuron ${neuron.index} (${neuron.kind})<br>feature ${i}<br>${weight} = ${formatNumber(v)}${raw}`,
      );
    }
    for (const [sum, count] of [
      [rest.pos, rest.countPos],
      [rest.neg, rest.countNeg],
    ]) {
      if (count === 0) continue;
      x.push(pos);
      y.push(sum);
      colour.push(REST_COLOUR);
      custom.push(
        `neuron ${neuron.index} (${neuron.kind})<br>${count} small weights merged` +
          `<br>Σ ${weight} = ${formatNumber(sum)}`,
      );
    }
  });
  return [
    {
      type: "bar",
      x,
      y,
      customdata: custom,
      marker: { color: colour, line: { color: "#ffffff", width: n <= LEGEND_FEATURES ? 0.6 : 0 } },
      hovertemplate: "%{customdata}<extra></extra>",
    },
  ];
}

/**
 * The neuron kinds as shapes: a faint column behind each neuron and a solid band above it.
 * @param {NeuronInfo[]} order
 * @returns {object[]}
 */
function kindShapes(order) {
  const shapes = [];
  order.forEach((neuron, pos) => {
    const colour = KIND_COLOURS[neuron.kind] ?? "#ffffff";
    shapes.push(
      {
        type: "rect",
        xref: "x",
        yref: "paper",
        x0: pos - 0.5,
        x1: pos + 0.5,
        y0: 0,
        y1: 1,
        fillcolor: colour,
        opacity: 0.12,
        line: { width: 0 },
        layer: "below",
      },
      {
        type: "rect",
        xref: "x",
        yref: "paper",
        x0: pos - 0.45,
        x1: pos + 0.45,
        y0: 1.02,
        y1: 1.08,
        fillcolor: colour,
        line: { width: 0 },
      },
    );
  });
  return shapes;
}

/**
 * Draw one instance's stacked neuron bars into `el`.
 * @param {HTMLElement} el
 * @param {any} instance
 * @param {NeuronInfo[]} order
 * @param {boolean} rescale rescale each neuron so its largest |W_ki| is 1
 * @returns {void}
 */
function drawInstance(el, instance, order, rescale) {
  const W = /** @type {number[][]} */ (instance.W);
  const m = W.length;
  const values = rescale
    ? W.map((row) => {
        const top = Math.max(0, ...row.map(Math.abs));
        return top > 0 ? row.map((w) => w / top) : row;
      })
    : W;
  const showTicks = m <= 16;
  const layout = {
    uirevision: "gallery-neurons",
    width: plotWidth(m),
    height: 230,
    margin: { l: 44, r: 8, t: 16, b: 34 },
    paper_bgcolor: "rgba(0,0,0,0)",
    plot_bgcolor: "#ffffff",
    font: { family: "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif", size: 11 },
    showlegend: false,
    barmode: "relative",
    bargap: m <= 16 ? 0.25 : 0.12,
    dragmode: false,
    hovermode: "closest",
    xaxis: {
      range: [-0.5, m - 0.5],
      fixedrange: true,
      tickmode: "array",
      tickvals: showTicks ? range(m) : [],
      ticktext: showTicks ? order.map((n) => String(n.index)) : [],
      showgrid: false,
      zeroline: false,
      title: { text: showTicks ? "neuron k" : "neurons (sorted)", standoff: 4 },
    },
    yaxis: {
      fixedrange: true,
      gridcolor: "#eceff3",
      zeroline: true,
      zerolinecolor: "#5f6368",
      title: {
        text: rescale ? "W<sub>ki</sub> / max<sub>i</sub>|W<sub>ki</sub>|" : "W<sub>ki</sub>",
        standoff: 4,
      },
    },
    shapes: kindShapes(order),
  };
  Plotly.react(el, barTraces(values, W, order, rescale), layout, {
    ...CONFIG,
    responsive: false,
    displayModeBar: false,
  });
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
      drawInstance(plot, instance, order, isAbsoluteValue(result, instance));
      summary.textContent = countText(neurons);
    },
  });
}
