// The stacked neuron bars of TMS §"Superposition in a Privileged Basis" and §"Computation in
// Superposition": neuron k is a column; each feature i adds a segment of height |W[k][i]|, above
// the axis when the weight is positive and below when negative; each neuron is marked
// monosemantic, polysemantic or dead. The gallery's neuron view draws through here.

import { CONFIG, Plotly, colourAt, range } from "./common.js";
import { formatNumber } from "../format.js";

/**
 * @typedef {object} NeuronInfo one neuron as the plot needs it
 * @property {number} index its original index k
 * @property {number} top its largest feature
 * @property {number} share that feature's share of Σᵢ W_ki²
 * @property {"monosemantic"|"polysemantic"|"dead"} kind
 */

/** Feature index → colour: feature 0 (the most important) dark, the last light (viridis). */
const FEATURE_SCALE = Object.freeze([
  [0, "#440154"],
  [0.25, "#3b528b"],
  [0.5, "#21918c"],
  [0.75, "#5ec962"],
  [1, "#d8d21c"],
]);

/** Each neuron kind's colour, and its faint background behind the neuron's bars. */
export const KIND_COLOURS = Object.freeze({
  monosemantic: "#3c8d5a",
  polysemantic: "#e8a33d",
  dead: "#bdc1c6",
});

/** Segments smaller than this share of the plot's largest |weight| are left out (under 1 px). */
const SMALLEST_SEGMENT = 0.005;

/** With more features than {@link LEGEND_FEATURES}, weights below this share of a plot's
 * largest are merged, per neuron and side, into one grey segment. */
export const MERGE_BELOW = 0.04;

/** The merged small weights' colour. */
export const REST_COLOUR = "#c7ccd3";

/** Up to this many features get a legend swatch each; more get a colour ramp (and merging). */
export const LEGEND_FEATURES = 12;

/**
 * The colour of feature i of n. With many features the index goes in through a square root, so
 * that the important (low-index) features, the ones neurons hold first, get distinct colours.
 * @param {number} i
 * @param {number} n
 * @returns {string}
 */
export function featureColour(i, n) {
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
 * @param {number[][]} W the instance's W, row k = neuron k
 * @param {NeuronInfo[]} order the neurons in drawing order
 * @param {boolean} rescale rescale each neuron so its largest |W_ki| is 1
 * @returns {void}
 */
export function renderNeuronBars(el, W, order, rescale) {
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

