// Double-descent plots (Henighan et al. 2023): the train and test loss against T with the peak
// marked, the features' and the training points' dimensionalities against T, and the 2-D
// pictures of W's columns and of the training points' hidden vectors for one T.

import { CONFIG, Plotly, axis, baseLayout } from "./common.js";

export const COLOURS = Object.freeze({
  test: "#d1495b",
  train: "#2e86ab",
  features: "#3b7d3b",
  points: "#8e44ad",
  selected: "#f2a541",
});

/**
 * @typedef {object} SweepPoint a DoubleDescentPoint
 * @property {number} n_train
 * @property {string} model_id
 * @property {number[]} train_loss per instance
 * @property {number[]|null} loss per instance, null while training
 * @property {number[]} data_dimensionality per instance, the mean over the T points
 * @property {number[][]} feature_dimensionality per instance, per feature
 * @property {number[][]} [feature_norms] per instance, per feature
 */

/**
 * The T of the highest test loss (first instance), or null while no test loss is known.
 * @param {SweepPoint[]} points
 * @returns {number|null}
 */
export function peakOf(points) {
  let best = null;
  for (const p of points) {
    if (!p.loss) return null;
    if (best === null || p.loss[0] > best.loss[0]) best = p;
  }
  return best ? best.n_train : null;
}

/**
 * Mean of a list (0 for an empty one).
 * @param {number[]} values
 * @returns {number}
 */
export function mean(values) {
  return values.length ? values.reduce((a, b) => a + b, 0) / values.length : 0;
}

/**
 * The dimensionality of the features the model represents: Σᵢ ‖Wᵢ‖² Dᵢ / Σᵢ ‖Wᵢ‖² (first
 * instance). With m ≪ n the plain mean of Dᵢ is at most m/n whatever the geometry.
 * @param {SweepPoint} point
 * @returns {number}
 */
export function weightedFeatureDimensionality(point) {
  const D = point.feature_dimensionality[0];
  const norms = point.feature_norms?.[0];
  if (!norms) return mean(D);
  let total = 0;
  let weight = 0;
  D.forEach((d, i) => {
    const w = norms[i] * norms[i];
    total += w * d;
    weight += w;
  });
  return weight > 0 ? total / weight : 0;
}

/**
 * A vertical marker at the selected T, as a layout shape.
 * @param {number|null} selected
 * @returns {object[]}
 */
function selectedShape(selected) {
  if (selected === null) return [];
  return [{
    type: "line", xref: "x", yref: "paper", x0: selected, x1: selected, y0: 0, y1: 1,
    line: { color: COLOURS.selected, width: 2, dash: "dot" },
  }];
}

/**
 * Bind a click on a point to `onPick(T)` once per element.
 * @param {any} el
 * @param {(T: number) => void} [onPick]
 */
function bindPick(el, onPick) {
  el._pickT = onPick;
  if (el._pickBound || !onPick) return;
  el._pickBound = true;
  el.on("plotly_click", (event) => {
    const point = event?.points?.[0];
    if (point && Number.isFinite(point.x) && el._pickT) el._pickT(Number(point.x));
  });
}

/**
 * Draw traces against T (both axes log, the legend under the plot), the selected T marked and a
 * click on a point bound to `onPick`: the frame the loss and dimensionality plots share.
 * @param {HTMLElement} el
 * @param {object[]} traces
 * @param {string} yTitle the y axis's title
 * @param {{selected: number|null, onPick?: (T: number) => void}} options
 * @returns {void}
 */
function drawAgainstT(el, traces, yTitle, { selected, onPick }) {
  const layout = baseLayout({
    showlegend: true,
    legend: { orientation: "h", x: 0, y: -0.22 },
    margin: { l: 52, r: 16, t: 10, b: 80 },
    xaxis: axis("training-set size T", { type: "log" }),
    yaxis: axis(yTitle, { type: "log" }),
    shapes: selectedShape(selected),
  });
  Plotly.react(el, traces, layout, CONFIG);
  bindPick(el, onPick);
}

/**
 * Test and train loss against T (log axes), the peak of the test loss marked.
 * @param {HTMLElement} el
 * @param {SweepPoint[]} points in increasing T
 * @param {{selected?: number|null, onPick?: (T: number) => void}} [options]
 * @returns {void}
 */
export function renderSweepLosses(el, points, { selected = null, onPick } = {}) {
  const T = points.map((p) => p.n_train);
  const traces = [
    {
      type: "scatter", mode: "lines+markers", name: "train loss", x: T,
      y: points.map((p) => p.train_loss[0]), line: { color: COLOURS.train },
      hovertemplate: "T = %{x}<br>train loss %{y:.4g}<extra></extra>",
    },
  ];
  const tested = points.filter((p) => p.loss);
  if (tested.length) {
    traces.push({
      type: "scatter", mode: "lines+markers", name: "test loss", x: tested.map((p) => p.n_train),
      y: tested.map((p) => /** @type {number[]} */ (p.loss)[0]), line: { color: COLOURS.test },
      hovertemplate: "T = %{x}<br>test loss %{y:.4g}<extra></extra>",
    });
  }
  const peak = peakOf(points);
  if (peak !== null) {
    const at = /** @type {SweepPoint} */ (points.find((p) => p.n_train === peak));
    traces.push({
      type: "scatter", mode: "markers+text", name: "peak", x: [peak],
      y: [/** @type {number[]} */ (at.loss)[0]], text: [`peak, T = ${peak}`], textposition: "top center",
      marker: { symbol: "star", size: 16, color: COLOURS.test, line: { color: "#000", width: 1 } },
      hovertemplate: "test-loss peak at T = %{x}<extra></extra>",
    });
  }
  drawAgainstT(el, traces, "loss", { selected, onPick });
}

/**
 * The features' and the training points' dimensionalities against T on one plot: every
 * feature's Dᵢ (faint dots), their mean, and the mean data-point D_t.
 * @param {HTMLElement} el
 * @param {SweepPoint[]} points
 * @param {{selected?: number|null, onPick?: (T: number) => void}} [options]
 * @returns {void}
 */
export function renderSweepDimensions(el, points, { selected = null, onPick } = {}) {
  const T = points.map((p) => p.n_train);
  const xs = [];
  const ys = [];
  for (const p of points) {
    for (const d of p.feature_dimensionality[0]) {
      xs.push(p.n_train);
      ys.push(Math.max(d, 1e-4));
    }
  }
  const traces = [
    {
      type: "scattergl", mode: "markers", name: "each feature", x: xs, y: ys,
      marker: { color: COLOURS.features, size: 4, opacity: 0.25 }, hoverinfo: "skip",
    },
    {
      type: "scatter", mode: "lines+markers", name: "features (‖Wᵢ‖²-weighted Dᵢ)", x: T,
      y: points.map((p) => Math.max(weightedFeatureDimensionality(p), 1e-4)),
      line: { color: COLOURS.features },
      hovertemplate: "T = %{x}<br>features' D (‖Wᵢ‖²-weighted) %{y:.3g}<extra></extra>",
    },
    {
      type: "scatter", mode: "lines+markers", name: "data points (mean D_t)", x: T,
      y: points.map((p) => Math.max(p.data_dimensionality[0], 1e-4)),
      line: { color: COLOURS.points },
      hovertemplate: "T = %{x}<br>mean data-point D %{y:.3g}<extra></extra>",
    },
  ];
  drawAgainstT(el, traces, "dimensionality", { selected, onPick });
}

/**
 * Vectors in the hidden plane as arrows from the origin (the first two hidden dimensions).
 * @param {HTMLElement} el
 * @param {number[][]} vectors each [x, y, …]
 * @param {{colour: string, label: string}} style
 * @returns {void}
 */
export function renderVectors2d(el, vectors, { colour, label }) {
  const xs = [];
  const ys = [];
  let extent = 1e-6;
  for (const v of vectors) {
    const [x, y] = [v[0] ?? 0, v[1] ?? 0];
    xs.push(0, x, null);
    ys.push(0, y, null);
    extent = Math.max(extent, Math.abs(x), Math.abs(y));
  }
  const ends = vectors.map((v) => [v[0] ?? 0, v[1] ?? 0]);
  const traces = [
    { type: "scatter", mode: "lines", x: xs, y: ys, line: { color: colour, width: 1.5 }, hoverinfo: "skip" },
    {
      type: "scatter", mode: "markers", name: label, x: ends.map((e) => e[0]), y: ends.map((e) => e[1]),
      marker: { color: colour, size: 7 },
      text: ends.map((_, i) => `${label} ${i}`),
      hovertemplate: "%{text}<br>(%{x:.3f}, %{y:.3f})<extra></extra>",
    },
  ];
  const lim = 1.15 * extent;
  const layout = baseLayout({
    xaxis: axis("h₀", { range: [-lim, lim], zeroline: true }),
    yaxis: axis("h₁", { range: [-lim, lim], zeroline: true, scaleanchor: "x", scaleratio: 1 }),
  });
  Plotly.react(el, traces, layout, CONFIG);
}
