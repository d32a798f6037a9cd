// Power activations (Chowdhury & Weiner): the trained gain L̃ against p on log–log axes, one
// colour per m, with the closed-form lines of GET /api/theory/power beside it and the theorem's
// scaling shapes drawn with an adjustable constant C.

import { CONFIG, Plotly, axis, baseLayout } from "./common.js";
import { scaled } from "../maths.js";

/** One colour per m, in the order of the sweep's m. */
export const M_COLOURS = Object.freeze([
  "#2f6db5",
  "#c4453c",
  "#3c8d5a",
  "#8e5fb5",
  "#e8a33d",
  "#1b8a99",
]);

/** The zero output's line: the most gain possible. */
const GREY = "#9aa3ad";

/**
 * @typedef {object} PowerSeries What is drawn for one m.
 * @property {number} m
 * @property {number} n n_features
 * @property {string} colour
 * @property {any} theory a PowerTheory answer, or null until it arrives
 * @property {import("../power/state.js").GainPoints|null} gains the trained gains, or null until
 *   the training ends
 */

/**
 * The theorem's two scaling shapes' legend names, as the page labels them.
 * @type {Readonly<Record<"shape_sparse"|"shape_dense", string>>}
 */
export const SHAPE_NAMES = Object.freeze({
  shape_sparse: "shape p·mᵏ × C (constant unknown)",
  shape_dense: "shape m·p^(1/k) × C (constant unknown)",
});

/**
 * One theory line of a series (skipped, as null, where the answer lacks it).
 * @param {PowerSeries} s
 * @param {string} kind the PowerTheory field
 * @param {string} name legend name
 * @param {object} line Plotly line style
 * @param {number} [c] a constant to multiply by
 * @returns {object|null}
 */
function theoryTrace(s, kind, name, line, c = 1) {
  const y = s.theory?.[kind];
  if (!Array.isArray(y)) return null;
  return {
    type: "scatter",
    mode: "lines",
    x: s.theory.p,
    y: c === 1 ? y : scaled(y, c),
    name,
    legendgroup: `m${s.m}`,
    line,
    meta: { kind, m: s.m },
    hovertemplate: `m = ${s.m}: ${name}<br>p = %{x:.3g}, L̃ = %{y:.3g}<extra></extra>`,
  };
}

/**
 * The thin line of a scaling shape.
 * @param {PowerSeries} s
 * @param {string} dash
 * @returns {object}
 */
const shapeLine = (s, dash) => ({ color: s.colour, width: 1, dash });

/**
 * Every trace of one m: the trained gains, then the theory's lines and shapes.
 * @param {PowerSeries} s
 * @param {number} k
 * @param {number} c the shapes' constant
 * @returns {object[]}
 */
export function seriesTraces(s, k, c) {
  const group = `m${s.m}`;
  const title = `m = ${s.m}, n = ${s.n}`;
  /** @type {Array<object|null>} */
  const traces = [];
  if (s.gains) {
    traces.push({
      type: "scatter",
      mode: "lines+markers",
      x: s.gains.p,
      y: s.gains.gain,
      customdata: s.gains.loss,
      name: `trained L̃ = L(x′=0) − L, ${title}`,
      line: { color: s.colour, width: 2 },
      marker: { color: s.colour, size: 7 },
      meta: { kind: "empirical", m: s.m },
      hovertemplate:
        `m = ${s.m}, trained<br>p = %{x:.3g}<br>L̃ = %{y:.4g}<br>L = %{customdata:.4g}<extra></extra>`,
    });
  }
  traces.push(
    theoryTrace(s, "unsuperposed_gain", "unsuperposed optimum p·m·μₖ₊₁²/μ₂ₖ", {
      color: s.colour,
      width: 1.5,
      dash: "dash",
    }),
  );
  if (k === 1) {
    traces.push(
      theoryTrace(s, "linear_ceiling", "linear ceiling p·μ₂·m", {
        color: s.colour,
        width: 2,
        dash: "dot",
      }),
    );
  }
  traces.push(
    theoryTrace(s, "zero_output_loss", "p·n·μ₂: all of L(x′=0), the most gain possible", {
      color: GREY,
      width: 1,
    }),
    theoryTrace(s, "shape_sparse", SHAPE_NAMES.shape_sparse, shapeLine(s, "dashdot"), c),
    theoryTrace(s, "shape_dense", SHAPE_NAMES.shape_dense, shapeLine(s, "longdash"), c),
  );
  // A short legend (legendEntries): one entry per m for its colour, one per line style.
  return /** @type {object[]} */ (traces.filter((t) => t !== null)).map((t) => ({
    ...t,
    legendgroup: group,
    showlegend: false,
  }));
}

/**
 * Legend-only traces: each m's colour ("m = 2, n = 9"), then what each line style means, in
 * neutral grey. Twelve entries per plot became at most 6 + 5.
 * @param {ReadonlyArray<PowerSeries>} series
 * @param {number} k
 * @returns {object[]}
 */
export function legendEntries(series, k) {
  const INK = "#4b5563";
  const entry = (name, line, mode = "lines", marker = undefined) => ({
    type: "scatter",
    mode,
    x: [null],
    y: [null],
    name,
    line,
    ...(marker ? { marker } : {}),
    hoverinfo: "skip",
    showlegend: true,
  });
  return [
    // Clicking an m hides or shows all its lines (the same legendgroup).
    ...series.map((s) => ({
      ...entry(`m = ${s.m}, n = ${s.n}`, { color: s.colour, width: 3 }),
      legendgroup: `m${s.m}`,
    })),
    entry("trained L̃", { color: INK, width: 2 }, "lines+markers", { color: INK, size: 7 }),
    entry("unsuperposed optimum", { color: INK, width: 1.5, dash: "dash" }),
    ...(k === 1 ? [entry("linear ceiling", { color: INK, width: 2, dash: "dot" })] : []),
    entry("p·n·μ₂: most possible", { color: GREY, width: 1 }),
    entry("shapes × C: p·mᵏ, m·p^(1/k)", { color: INK, width: 1, dash: "dashdot" }),
  ];
}

/**
 * The vertical line at the very sparse edge p = m⁻ᵏ of every m whose theory has arrived.
 * @param {ReadonlyArray<PowerSeries>} series
 * @returns {object[]} Plotly layout shapes (x in data units, y across the plot)
 */
export function edgeShapes(series) {
  const drawn = series.filter((s) => Number.isFinite(s.theory?.very_sparse_edge));
  // Neighbouring labels apart: alternately left and right of their lines, in order of p.
  const order = drawn.map((s) => s.theory.very_sparse_edge).sort((a, b) => a - b);
  return drawn
    .map((s) => ({
      type: "line",
      xref: "x",
      yref: "paper",
      x0: s.theory.very_sparse_edge,
      x1: s.theory.very_sparse_edge,
      y0: 0,
      y1: 1,
      line: { color: s.colour, width: 1, dash: "dot" },
      // A short level label at the top, not a sideways one along the line.
      label: {
        text: `m⁻ᵏ (m = ${s.m})`,
        textangle: 0,
        textposition: "end",
        yanchor: "top",
        xanchor: order.indexOf(s.theory.very_sparse_edge) % 2 === 0 ? "right" : "left",
        font: { size: 10, color: s.colour },
      },
    }));
}

/**
 * Draw the gain plot: every series' traces, the very sparse edges, log–log axes and a legend.
 * @param {HTMLElement} el
 * @param {ReadonlyArray<PowerSeries>} series
 * @param {{k: number, c: number}} opts the power and the shapes' constant
 * @returns {void}
 */
export function renderPowerPlot(el, series, opts) {
  const traces = [
    ...series.flatMap((s) => seriesTraces(s, opts.k, opts.c)),
    ...legendEntries(series, opts.k),
  ];
  const layout = baseLayout({
    xaxis: axis("feature probability p", { type: "log", exponentformat: "power" }),
    yaxis: axis("gain L̃ = p·n·μ₂ − L", { type: "log", exponentformat: "power" }),
    hovermode: "closest",
    showlegend: true,
    legend: { font: { size: 11 } },
    margin: { l: 60, r: 10, t: 10, b: 48 },
    shapes: edgeShapes(series),
  });
  Plotly.react(el, traces, layout, CONFIG);
}
