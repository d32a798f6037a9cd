// Training dynamics (TMS §"Superposition and Learning Dynamics"): every feature's dimensionality
// Dᵢ through training over the loss curve with a marker at the replayed step, the ‖Wᵢ‖ bars of
// one step, a histogram of its Dᵢ, and while training live a strip of the current Dᵢ. The
// gallery's learning-dynamics view draws through here.

import { CONFIG, Plotly, axis, baseLayout, colourAt, range } from "./common.js";
import { normBars, superpositionKey } from "./norms.js";
import { fractionLines } from "./sweep.js";
import { runningMedian } from "../maths.js";

/** Colours the Dᵢ lines by each feature's final Dᵢ: 0 dark → 1 light. */
const FINAL_D_SCALE = Object.freeze([
  [0, "#440154"],
  [0.375, "#3b528b"],
  [0.5, "#21918c"],
  [0.7, "#5ec962"],
  [1, "#c8a800"],
]);

/** The step marker's colour. */
const MARKER_COLOUR = "#c5221f";

/**
 * A vertical line at `step` across both plots of the big figure.
 * @param {number} step
 * @returns {object}
 */
export function stepMarker(step) {
  return {
    type: "line",
    xref: "x",
    yref: "paper",
    x0: step,
    x1: step,
    y0: 0,
    y1: 1,
    line: { color: MARKER_COLOUR, width: 1.5 },
  };
}

/**
 * The big figure: Dᵢ of every feature against step on top, the loss (log) below, one x axis.
 * @param {HTMLElement} el
 * @param {any[]} snapshots SnapshotSummary list
 * @param {{step: number, loss: number[]}[]} history
 * @param {number} step the marker's step
 * @returns {void}
 */
export function renderTrainingDynamics(el, snapshots, history, step) {
  const steps = snapshots.map((s) => s.step);
  const n = snapshots[0]?.dimensionality?.[0]?.length ?? 0;
  const last = snapshots[snapshots.length - 1]?.dimensionality?.[0] ?? [];
  const traces = range(n).map((i) => ({
    type: "scatter",
    mode: "lines",
    x: steps,
    y: snapshots.map((s) => s.dimensionality[0][i]),
    line: { color: colourAt(FINAL_D_SCALE, last[i]), width: 1 },
    opacity: 0.75,
    hovertemplate: `feature ${i}<br>step %{x}<br>D<sub>i</sub> = %{y:.3f}<extra></extra>`,
  }));
  const lossPoints = history.filter((p) => Number.isFinite(p?.loss?.[0]) && p.loss[0] > 0);
  traces.push({
    type: "scatter",
    mode: "lines",
    x: lossPoints.map((p) => p.step),
    y: lossPoints.map((p) => p.loss[0]),
    xaxis: "x",
    yaxis: "y2",
    line: { color: "#3c4043", width: 1.5 },
    hovertemplate: "step %{x}<br>L = %{y:.4g}<extra></extra>",
  });
  const lastStep = Math.max(steps[steps.length - 1] ?? 1, lossPoints[lossPoints.length - 1]?.step ?? 1, 1);
  const { shapes, annotations } = fractionLines();
  annotations.push({
    xref: "paper",
    yref: "paper",
    x: 0,
    y: 0.3,
    xanchor: "left",
    yanchor: "bottom",
    text: lossPoints.length ? "" : "no loss history",
    showarrow: false,
    font: { size: 11, color: "#5f6368" },
  });
  const layout = baseLayout({
    uirevision: "gallery-dynamics",
    margin: { l: 56, r: 36, t: 18, b: 44 },
    hovermode: "closest",
    xaxis: axis("training step", { range: [0, lastStep], anchor: "y2" }),
    yaxis: axis("D<sub>i</sub> (dimensionality)", { domain: [0.38, 1], range: [0, 1.05] }),
    yaxis2: axis("loss (log)", { domain: [0, 0.3], type: "log", anchor: "x" }),
    shapes: [...shapes, stepMarker(step)],
    annotations,
  });
  Plotly.react(el, traces, layout, CONFIG);
}

/**
 * The ‖Wᵢ‖ bars of one step, coloured by superposition, with a fixed y range for the replay.
 * @param {HTMLElement} el
 * @param {{feature_norms: number[], superposition: number[], dimensionality: number[]}} w
 * @param {number} yMax
 * @returns {void}
 */
export function renderNormsAtStep(el, w, yMax) {
  const n = w.feature_norms.length;
  const bars = normBars(w, { vertical: true, edges: false });
  const layout = baseLayout({
    uirevision: "gallery-dynamics-norms",
    margin: { l: 52, r: 10, t: 10, b: 40 },
    bargap: n <= 32 ? 0.2 : 0,
    xaxis: axis("feature i", { range: [-0.5, n - 0.5] }),
    yaxis: axis("‖W<sub>i</sub>‖", { range: [0, yMax] }),
  });
  Plotly.react(el, [bars, superpositionKey("superposition", 10)], layout, CONFIG);
}

/**
 * A histogram of one step's Dᵢ, with the polytope fractions marked.
 * @param {HTMLElement} el
 * @param {number[]} dims
 * @returns {void}
 */
export function renderDimensionalityHistogram(el, dims) {
  const { shapes, annotations } = fractionLines({ vertical: true });
  const layout = baseLayout({
    uirevision: "gallery-dynamics-hist",
    margin: { l: 44, r: 10, t: 18, b: 40 },
    bargap: 0.05,
    xaxis: axis("D<sub>i</sub> at this step", { range: [0, 1.05] }),
    yaxis: axis("features", { rangemode: "tozero" }),
    shapes,
    annotations,
  });
  const hist = {
    type: "histogram",
    x: dims,
    xbins: { start: 0, end: 1.05, size: 0.0125 },
    marker: { color: "#4a7fb8" },
    hovertemplate: "D<sub>i</sub> in %{x}<br>%{y} features<extra></extra>",
  };
  Plotly.react(el, [hist], layout, CONFIG);
}

/**
 * The live strip: each feature's current Dᵢ as a dot (spread vertically so dots stay apart).
 * @param {HTMLElement} el
 * @param {number[]} dims
 * @returns {void}
 */
export function renderDimensionalityStrip(el, dims) {
  const { shapes, annotations } = fractionLines({ vertical: true });
  const strip = {
    type: "scatter",
    mode: "markers",
    x: dims,
    y: dims.map((_, i) => ((i * 0.618034) % 1) - 0.5),
    marker: { size: 6, color: "#4a7fb8", opacity: 0.7 },
    customdata: range(dims.length),
    hovertemplate: "feature %{customdata}<br>D<sub>i</sub> = %{x:.3f}<extra></extra>",
  };
  const layout = baseLayout({
    uirevision: "gallery-dynamics-live",
    margin: { l: 20, r: 10, t: 18, b: 40 },
    hovermode: "closest",
    xaxis: axis("D<sub>i</sub> now", { range: [0, 1.05] }),
    yaxis: { visible: false, range: [-0.6, 0.6], fixedrange: true },
    shapes,
    annotations,
  });
  Plotly.react(el, [strip], layout, CONFIG);
}

/**
 * Move the step marker of a drawn dynamics figure (`renderTrainingDynamics`) to `step`.
 * @param {HTMLElement} el
 * @param {number} step
 * @returns {void}
 */
export function moveStepMarker(el, step) {
  if (/** @type {any} */ (el).layout) Plotly.relayout(el, { shapes: [...fractionLines().shapes, stepMarker(step)] });
}

/**
 * The loss curve under a replay: the training batch's L (light) and its running median (the batch
 * loss is noisy), on log axes, with a dashed line and a label where each regime starts.
 * @param {HTMLElement} el
 * @param {{step: number, loss: number[]}[]} history the result's loss_history (instance 0 drawn)
 * @param {number[]} regimeSteps the steps where a new geometry sets in
 * @returns {object[]} the regime lines, to pass back to `markReplayStep`
 */
export function renderReplayLoss(el, history, regimeSteps) {
  const steps = history.map((h) => Math.max(h.step, 1)); // log axis: step 0 drawn at 1
  const losses = history.map((h) => h.loss?.[0]);
  const shapes = regimeSteps.map((step) => ({
    ...stepMarker(Math.max(step, 1)),
    line: { color: "#5f6368", width: 1, dash: "dash" },
  }));
  const annotations = regimeSteps.map((step, m) => ({
    xref: "x",
    yref: "paper",
    x: Math.log10(Math.max(step, 1)),
    y: 1,
    yanchor: "bottom",
    text: `regime ${m + 2}`,
    showarrow: false,
    font: { size: 11, color: "#3c4043" },
  }));
  const line = (y, colour, width, label) => ({
    type: "scatter",
    mode: "lines",
    x: steps,
    y,
    line: { color: colour, width },
    hovertemplate: `step %{x}<br>${label} = %{y:.4g}<extra></extra>`,
  });
  Plotly.react(
    el,
    [line(losses, "#aecbfa", 1, "batch L"), line(runningMedian(losses), "#1a73e8", 2, "running median L")],
    baseLayout({
      margin: { l: 60, r: 12, t: 20, b: 44 },
      xaxis: axis("step (log)", { type: "log" }),
      yaxis: axis("loss L", { type: "log" }),
      shapes,
      annotations,
    }),
    CONFIG,
  );
  return shapes;
}

/**
 * Mark `step` on a replay's loss curve (`renderReplayLoss`) with a red line, keeping the regimes'.
 * @param {HTMLElement} el
 * @param {object[]} regimeShapes what `renderReplayLoss` returned
 * @param {number} step
 * @returns {void}
 */
export function markReplayStep(el, regimeShapes, step) {
  Plotly.relayout(el, { shapes: [...regimeShapes, { ...stepMarker(Math.max(step, 1)), line: { color: MARKER_COLOUR, width: 2 } }] });
}
