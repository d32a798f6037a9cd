// Per-instance and per-feature quantities against sparsity, 1/(1 − S) (TMS §"Superposition as a
// Phase Change" and §"The Geometry of Superposition"): the features × sparsity heatmaps, one
// quantity per instance as a line (‖W‖²_F, D*), every feature's Dᵢ as a scatter, the log axis
// they share and the uniform polytopes' fractions as dashed reference lines (also the learning-
// dynamics figures'). The gallery's sparsity-sweep and feature-geometry views draw through here.

import { CONFIG, Plotly, axis, baseLayout, colourAt, range } from "./common.js";
import { SUPERPOSITION_SCALE } from "./norms.js";
import { formatNumber } from "../format.js";

/** The gallery's bigger plots: hover, but no mode bar clutter. */
export const VIEW_CONFIG = Object.freeze({ ...CONFIG, displayModeBar: false });

// -- the polytope fractions (the feature-geometry and learning-dynamics figures) ---------------------------------------------------------------------

/**
 * The uniform polytopes' dimensionalities (TMS §"Feature Dimensionality"), the levels where the
 * features' Dᵢ stick: the value, its label, the polytope, and `nudge`, how far (px) its label moves
 * away from the 0 end of the axis (2/5 and 3/8 lie close together: their labels are pushed apart).
 * @type {ReadonlyArray<Readonly<{value: number, label: string, name: string, nudge: number}>>}
 */
export const FRACTIONS = Object.freeze(
  [
    { value: 1, label: "1", name: "dedicated", nudge: 0 },
    { value: 3 / 4, label: "3/4", name: "tetrahedron", nudge: 0 },
    { value: 2 / 3, label: "2/3", name: "triangle", nudge: 0 },
    { value: 1 / 2, label: "1/2", name: "digon (antipodal)", nudge: 0 },
    { value: 2 / 5, label: "2/5", name: "pentagon", nudge: 5 },
    { value: 3 / 8, label: "3/8", name: "square antiprism", nudge: -5 },
  ].map((f) => Object.freeze(f)),
);

/**
 * Dashed lines at the {@link FRACTIONS}, labelled: horizontal (y = fraction, labels beyond the
 * right edge) or `vertical` (x = fraction, labels over the top).
 * @param {object} [options]
 * @param {boolean} [options.vertical]
 * @param {boolean} [options.named] label "2/5 pentagon" rather than "2/5"
 * @param {string} [options.line] the lines' colour
 * @param {string} [options.text] the labels' colour
 * @returns {{shapes: object[], annotations: object[]}}
 */
export function fractionLines({ vertical = false, named = false, line = "#9aa0a6", text = "#5f6368" } = {}) {
  const style = { color: line, width: 1, dash: "dash" };
  const font = { size: 10, color: text };
  const shapes = FRACTIONS.map(({ value: f }) =>
    vertical
      ? { type: "line", xref: "x", yref: "paper", x0: f, x1: f, y0: 0, y1: 1, line: style, layer: "below" }
      : { type: "line", xref: "paper", yref: "y", x0: 0, x1: 1, y0: f, y1: f, line: style, layer: "below" },
  );
  const annotations = FRACTIONS.map(({ value: f, label, name, nudge }) => {
    const common = { text: named ? `${label} ${name}` : label, showarrow: false, font };
    return vertical
      ? {
          xref: "x",
          yref: "paper",
          x: f,
          y: 1,
          yanchor: "bottom",
          xanchor: nudge > 0 ? "left" : nudge < 0 ? "right" : "center",
          ...common,
        }
      : { xref: "paper", yref: "y", x: 1, y: f, xanchor: "left", yshift: nudge, ...common };
  });
  return { shapes, annotations };
}

/**
 * A log x axis over `values` with ticks at 1, 2, 5 × 10ᵏ (Plotly's own log ticks label 20 as "2").
 * @param {string} title
 * @param {number[]} values the data's x values (positive)
 * @returns {object}
 */
export function logAxis(title, values) {
  const finite = values.filter((v) => v > 0 && Number.isFinite(v));
  const lo = Math.min(...finite, 1);
  const hi = Math.max(...finite, 1);
  const tickvals = [];
  for (let k = Math.floor(Math.log10(lo)); k <= Math.ceil(Math.log10(hi)); k += 1) {
    for (const m of [1, 2, 5]) {
      const v = m * 10 ** k;
      if (v >= lo / 1.3 && v <= hi * 1.3) tickvals.push(v);
    }
  }
  return axis(title, { type: "log", tickvals, ticktext: tickvals.map((v) => formatNumber(v)) });
}


// -- the figures ---------------------------------------------------------------------------------

/** Norms from white (0, not represented) to dark blue (≥ 1). */
export const NORM_SCALE = Object.freeze([
  [0, "#ffffff"],
  [0.5, "#7fa8d6"],
  [1, "#0b2e59"],
]);

/**
 * One per-feature quantity as a features × sparsity heatmap: a column per instance (labelled
 * with its 1/(1 − S), at most about 8 labels), a row per feature, most important on top;
 * `customdata` is the instance's index (for a click).
 * @param {HTMLElement} el
 * @param {ReadonlyArray<Record<string, any>>} instances InstanceResult[]
 * @param {number[]} x each instance's 1/(1 − S)
 * @param {{name: string, colorscale: ReadonlyArray<[number, string]>, zmax: number, title: string}} what
 *   the instance field (n_features values each), its colours, top and title
 * @returns {void}
 */
export function renderFeatureHeatmap(el, instances, x, { name, colorscale, zmax, title }) {
  const n = instances[0][name].length;
  const cols = range(instances.length);
  const every = Math.ceil(cols.length / 8);
  const tickvals = cols.filter((k) => k % every === 0);
  const ticktext = tickvals.map((k) => formatNumber(x[k], 2));
  const trace = {
    type: "heatmap",
    x: cols,
    y: range(n),
    z: range(n).map((i) => instances.map((inst) => inst[name][i])),
    zmin: 0,
    zmax,
    colorscale,
    customdata: range(n).map(() => cols),
    colorbar: { thickness: 10, len: 0.9, title: { text: title, side: "right" } },
    hovertemplate: `feature %{y}, 1/(1−S) = %{x}<br>${title} = %{z:.3f}<extra></extra>`,
  };
  const layout = baseLayout({
    xaxis: axis("1/(1 − S)", { tickvals, ticktext, showgrid: false, zeroline: false }),
    yaxis: axis("feature i", { autorange: "reversed", showgrid: false, zeroline: false }),
    margin: { l: 52, r: 8, t: 6, b: 44 },
  });
  Plotly.react(el, [trace], layout, VIEW_CONFIG);
}

/**
 * A level line across the plot at y, labelled at its right end.
 * @param {number} y
 * @param {string} text
 * @returns {{shape: object, annotation: object}}
 */
function levelLine(y, text) {
  return {
    shape: { type: "line", xref: "paper", x0: 0, x1: 1, y0: y, y1: y, line: { dash: "dash", color: "#5f6b7a", width: 1 } },
    annotation: { xref: "paper", x: 1, y, yanchor: "bottom", xanchor: "right", text, showarrow: false, font: { size: 11, color: "#5f6b7a" } },
  };
}

/**
 * One quantity per instance against 1/(1 − S) on a log axis, a point per instance (`customdata`
 * its index, for a click): ‖W‖²_F with the level m, or D* with the polytopes' fractions.
 * @param {HTMLElement} el
 * @param {number[]} x each instance's 1/(1 − S)
 * @param {number[]} y the quantity
 * @param {object} options
 * @param {string} options.title the y axis' title, and the hover's name
 * @param {[number, number]} [options.yRange] a fixed y range (else from 0)
 * @param {{y: number, text: string}} [options.level] a dashed level line
 * @param {boolean} [options.fractions] the polytopes' fractions, named, as dashed lines
 * @returns {void}
 */
export function renderPerInstance(el, x, y, { title, yRange, level, fractions = false }) {
  const line = {
    type: "scatter",
    mode: "lines+markers",
    x,
    y,
    customdata: range(x.length),
    marker: { size: 8, color: "#2f6db5" },
    line: { color: "#2f6db5" },
    hovertemplate: `1/(1−S) = %{x:.3g}<br>${title} = %{y:.3f}<extra></extra>`,
  };
  const lines = fractions ? fractionLines({ named: true, line: "#9aa3ad", text: "#5f6b7a" }) : { shapes: [], annotations: [] };
  const marked = level ? levelLine(level.y, level.text) : null;
  const layout = baseLayout({
    margin: { l: 52, r: fractions ? 130 : 8, t: 8, b: 44 },
    xaxis: logAxis("1/(1 − S)", x),
    yaxis: axis(title, yRange ? { range: yRange } : { rangemode: "tozero" }),
    shapes: [...lines.shapes, ...(marked ? [marked.shape] : [])],
    annotations: [...lines.annotations, ...(marked ? [marked.annotation] : [])],
  });
  Plotly.react(el, [line], layout, VIEW_CONFIG);
}

/**
 * A deterministic jitter factor in [1 − w, 1 + w] for feature i (stable across redraws).
 * @param {number} i
 * @param {number} [w]
 * @returns {number}
 */
function jitter(i, w = 0.07) {
  const u = (Math.sin(12.9898 * (i + 1)) * 43758.5453) % 1;
  return 1 + w * (2 * Math.abs(u) - 1);
}

/**
 * Every learned feature's dimensionality Dᵢ against its instance's 1/(1 − S) (x jittered a
 * little per feature), coloured by superposition, over the polytopes' fractions; features with
 * ‖Wᵢ‖ < minNorm are left out and counted in a corner note. `customdata` is [instance, feature].
 * @param {HTMLElement} el
 * @param {ReadonlyArray<Record<string, any>>} instances InstanceResult[]
 * @param {number[]} x each instance's 1/(1 − S)
 * @param {number} minNorm
 * @returns {void}
 */
export function renderFeatureDimensionalities(el, instances, x, minNorm) {
  const px = [];
  const py = [];
  const colour = [];
  const custom = [];
  let skipped = 0;
  instances.forEach((inst, k) => {
    inst.dimensionality.forEach((/** @type {number} */ d, /** @type {number} */ i) => {
      if (!(inst.feature_norms[i] >= minNorm) || !Number.isFinite(d)) {
        skipped += 1;
        return;
      }
      px.push(x[k] * jitter(i));
      py.push(d);
      colour.push(colourAt(SUPERPOSITION_SCALE, inst.superposition[i]));
      custom.push([k, i]);
    });
  });
  const scatter = {
    type: "scatter",
    mode: "markers",
    x: px,
    y: py,
    customdata: custom,
    marker: { size: 5, opacity: 0.75, color: colour, line: { color: "#5f6b7a", width: 0.3 } },
    hovertemplate: "feature %{customdata[1]}<br>D<sub>i</sub> = %{y:.3f}<extra></extra>",
  };
  const lines = fractionLines({ named: true, line: "#9aa3ad", text: "#5f6b7a" });
  const layout = baseLayout({
    margin: { l: 52, r: 130, t: 8, b: 44 },
    xaxis: logAxis("1/(1 − S)", x),
    yaxis: axis("Dᵢ", { range: [0, 1.1] }),
    shapes: lines.shapes,
    annotations: [
      ...lines.annotations,
      {
        xref: "paper",
        yref: "paper",
        x: 0,
        y: 1,
        xanchor: "left",
        yanchor: "top",
        text: `${skipped} of ${skipped + px.length} not learned (‖Wᵢ‖ < ${minNorm}), not shown`,
        showarrow: false,
        font: { size: 10, color: "#5f6b7a" },
      },
    ],
  });
  Plotly.react(el, [scatter], layout, VIEW_CONFIG);
}
