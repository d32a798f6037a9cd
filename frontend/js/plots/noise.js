// Compounding noise (docs/THEORY.md F13, Linsefors "Some costs of superposition" §Compounding noise):
// with l features active at magnitude 1, what an inactive feature reads before and after the
// trained bias and activation, beside the signal and the random-direction prediction √(l/m).

import { formatNumber } from "../format.js";
import { CONFIG, Plotly, axis, baseLayout } from "./common.js";

/**
 * @typedef {object} NoiseCurve `GET /api/models/{id}/noise`.
 * @property {string} id
 * @property {number} instance
 * @property {number} n_features
 * @property {number} n_hidden
 * @property {number} samples
 * @property {number} seed
 * @property {number[]} l active features
 * @property {Array<number|null>} pre_activation_rms RMS of (WᵀWx)ⱼ over inactive j
 * @property {Array<number|null>} post_activation_rms RMS of x′ⱼ over inactive j
 * @property {Array<number|null>} signal mean of (WᵀWx)ᵢ over active i
 * @property {number[]} predicted_rms √(l/m)
 * @property {number|null} crossover_l first l with pre_activation_rms ≥ signal
 * @property {number} typical_budget m
 * @property {number|null} worst_case_budget m / (8 ln n)
 */

/** A budget below this is not drawn (it would sit on the y axis). */
export const MIN_BUDGET_DRAWN = 0.01;

/** Above this many l values the x axis turns logarithmic. */
const LINEAR_AXIS_MAX = 64;

/**
 * Draw (or redraw) the noise curves into `el`.
 * @param {HTMLElement} el the #noise div
 * @param {NoiseCurve} curve
 * @returns {void}
 */
export function renderNoise(el, curve) {
  const x = curve.l;
  const line = (name, y, colour, dash = "solid", width = 1.8) => ({
    type: "scatter",
    mode: x.length > 24 ? "lines" : "lines+markers",
    name,
    x,
    y,
    line: { color: colour, width, dash },
    marker: { size: 4 },
    connectgaps: false,
    hovertemplate: `${name}<br>l = %{x}: %{y:.3g}<extra></extra>`,
  });
  const finite = (values) => values.filter((v) => v !== null && Number.isFinite(v));
  const top = Math.max(
    1e-9,
    ...finite(curve.pre_activation_rms),
    ...finite(curve.post_activation_rms),
    ...finite(curve.signal),
    ...finite(curve.predicted_rms),
  );
  const vline = (name, at, colour) => ({
    type: "scatter",
    mode: "lines",
    name,
    x: [at, at],
    y: [0, top * 1.05],
    line: { color: colour, width: 1.2, dash: "dot" },
    hovertemplate: `${name}<extra></extra>`,
  });
  const traces = [
    line("signal (what an active feature reads)", curve.signal, "#2f6db5", "solid", 2.2),
    line("noise before activation, RMS", curve.pre_activation_rms, "#e07b00"),
    line("noise after bias + activation, RMS", curve.post_activation_rms, "#c4453c"),
    line("random directions √(l/m)", curve.predicted_rms, "#6b7480", "dash", 1.4),
    vline(`l = m = ${formatNumber(curve.typical_budget)}: typical budget`, curve.typical_budget, "#3c8d5a"),
  ];
  const worst = curve.worst_case_budget;
  if (worst !== null && Number.isFinite(worst) && worst >= MIN_BUDGET_DRAWN) {
    traces.push(vline(`l = m/(8 ln n) = ${formatNumber(worst, 2)}: worst case`, worst, "#8a5cc2"));
  }
  const crossing = crossoverPoint(curve);
  if (crossing) {
    traces.push({
      type: "scatter",
      mode: "markers",
      name: `noise reaches the signal at l = ${crossing.l}`,
      x: [crossing.l],
      y: [crossing.y],
      marker: { symbol: "x", size: 11, color: "#111827", line: { width: 1 } },
      hovertemplate: `crossover: l = %{x}<extra></extra>`,
    });
  }
  const log = x.length > 0 && Math.max(...x) > LINEAR_AXIS_MAX;
  const layout = baseLayout({
    showlegend: true,
    legend: { orientation: "h", y: -0.22, font: { size: 10.5 } },
    xaxis: axis("l, features active (magnitude 1)", log ? { type: "log" } : { rangemode: "tozero" }),
    yaxis: axis("readout", { rangemode: "tozero" }),
  });
  Plotly.react(el, traces, layout, CONFIG);
}

/**
 * Where the pre-activation noise first reaches the signal, as a point on its curve; null when it
 * never does.
 * @param {NoiseCurve} curve
 * @returns {{l: number, y: number}|null}
 */
export function crossoverPoint(curve) {
  if (curve.crossover_l === null || curve.crossover_l === undefined) return null;
  const i = curve.l.indexOf(curve.crossover_l);
  const y = i >= 0 ? curve.pre_activation_rms[i] : null;
  return y === null || y === undefined ? null : { l: curve.crossover_l, y };
}

/**
 * One or two sentences on the noise: where it reaches the signal, against the typical and the
 * worst-case budgets, and how much the bias and activation remove at l = 1.
 * @param {NoiseCurve} curve
 * @returns {string}
 */
export function noiseSummary(curve) {
  const budgets =
    `random directions predict l ≈ m = ${formatNumber(curve.typical_budget)}` +
    (curve.worst_case_budget === null
      ? ""
      : `, Linsefors's JL worst case l < m/(8 ln n) = ${formatNumber(curve.worst_case_budget, 2)}`);
  const lMax = curve.l.length ? curve.l[curve.l.length - 1] : 0;
  const reach =
    curve.crossover_l === null
      ? `The noise on an inactive feature stays below the signal for every l ≤ ${lMax} (${budgets}).`
      : `The noise on an inactive feature reaches the signal at l = ${curve.crossover_l} ` +
        `(${budgets}).`;
  const pre = curve.pre_activation_rms[0];
  const post = curve.post_activation_rms[0];
  const first = curve.l[0];
  const filter =
    pre !== null && post !== null && Number.isFinite(pre) && Number.isFinite(post) && pre > 0
      ? ` At l = ${first} the trained bias and activation take it from ${formatNumber(pre, 2)} ` +
        `to ${formatNumber(post, 2)}.`
      : "";
  return reach + filter;
}
