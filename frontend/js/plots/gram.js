// The Gram matrix WᵀW as a heatmap: entry (i, j) is Wᵢ·Wⱼ, the interference between features.

import { CONFIG, Plotly, SMALL_CONFIG, axis, baseLayout, indexTicks, range, thumbLayout } from "./common.js";

/**
 * A diverging colour scale, white at 0: blue for negative, red for positive (ColorBrewer RdBu,
 * reversed).
 * @type {ReadonlyArray<[number, string]>}
 */
export const DIVERGING = Object.freeze([
  [0, "#053061"],
  [0.1, "#2166ac"],
  [0.2, "#4393c3"],
  [0.3, "#92c5de"],
  [0.4, "#d1e5f0"],
  [0.5, "#f7f7f7"],
  [0.6, "#fddbc7"],
  [0.7, "#f4a582"],
  [0.8, "#d6604d"],
  [0.9, "#b2182b"],
  [1, "#67001f"],
]);

/**
 * The fixed colour range of every WᵀW heatmap (explorer and gallery): colours span
 * −GRAM_RANGE … +GRAM_RANGE at every step and in every cell, so the same brightness means the same
 * overlap. 1 is a unit feature's squared norm (the diagonal of a trained feature, the overlap of
 * two antipodal unit features); entries beyond it saturate, and the hover gives the exact value.
 * @type {number}
 */
export const GRAM_RANGE = 1;

/** The colour bar's title of every WᵀW heatmap, naming the fixed range. */
export const GRAM_COLORBAR_TITLE = "W<sub>i</sub>·W<sub>j</sub><br>(fixed ±1)";

/**
 * The largest |entry| of a matrix, at least 1e-6, so that the colour range is never empty.
 * @param {number[][]} matrix
 * @returns {number}
 */
export function maxAbs(matrix) {
  let m = 1e-6;
  for (const row of matrix) for (const v of row) if (Math.abs(v) > m) m = Math.abs(v);
  return m;
}

/**
 * The WᵀW heatmap trace on the fixed colour range ±GRAM_RANGE (white at 0): the explorer's and
 * every gallery view's, so that the same colour means the same overlap everywhere.
 * @param {number[][]} gram n × n
 * @param {object} [extra] fields to merge in (colour bar, gaps, hover)
 * @returns {object} a Plotly heatmap trace
 */
export function gramTrace(gram, extra = {}) {
  return {
    type: "heatmap",
    z: gram,
    zmin: -GRAM_RANGE,
    zmax: GRAM_RANGE,
    zmid: 0,
    colorscale: DIVERGING,
    ...extra,
  };
}

/**
 * Outlines of row i and column i of an n × n heatmap (the linked highlight of feature i), as
 * Plotly shapes; none when i is not a feature.
 * @param {number} n
 * @param {number} i the highlighted feature, or −1
 * @returns {object[]}
 */
export function rowColumnOutline(n, i) {
  if (!(i >= 0 && i < n)) return [];
  const line = { color: "#111111", width: 2 };
  const box = (x0, x1, y0, y1) => ({ type: "rect", xref: "x", yref: "y", x0, x1, y0, y1, line });
  return [box(-0.5, n - 0.5, i - 0.5, i + 0.5), box(i - 0.5, i + 0.5, -0.5, n - 0.5)];
}

/**
 * Draw (or redraw) WᵀW into `el` on the fixed colour range ±GRAM_RANGE (white at 0), feature 0
 * at the top, square cells; feature `highlight`'s row and column outlined.
 * @param {HTMLElement} el the #gram div
 * @param {number[][]} gram n × n
 * @param {number} [highlight] the feature to outline, −1 for none
 * @returns {void}
 */
export function renderGram(el, gram, highlight = -1) {
  const n = gram.length;
  const idx = range(n);
  const trace = gramTrace(gram, {
    x: idx,
    y: idx,
    xgap: n <= 32 ? 1 : 0,
    ygap: n <= 32 ? 1 : 0,
    colorbar: { thickness: 12, len: 0.9, title: { text: GRAM_COLORBAR_TITLE, side: "right" } },
    hovertemplate: "(WᵀW)<sub>%{y},%{x}</sub> = %{z:.3f}<extra></extra>",
  });
  const layout = baseLayout({
    margin: { l: 48, r: 8, t: 10, b: 44 },
    xaxis: axis("feature j", { constrain: "domain", showgrid: false, zeroline: false, ...indexTicks(n) }),
    yaxis: axis("feature i", {
      autorange: "reversed",
      scaleanchor: "x",
      scaleratio: 1,
      constrain: "domain",
      showgrid: false,
      zeroline: false,
      ...indexTicks(n),
    }),
    shapes: rowColumnOutline(n, highlight),
  });
  el.dataset.highlight = String(highlight);
  Plotly.react(el, [trace], layout, CONFIG);
}

/**
 * A thumbnail of WᵀW (the gallery's basic grid): no axes or colour bar, the same fixed colours.
 * @param {HTMLElement} el
 * @param {number[][]} gram n × n
 * @returns {void}
 */
export function renderGramThumb(el, gram) {
  const layout = thumbLayout({}, { autorange: "reversed" });
  Plotly.react(el, [gramTrace(gram, { showscale: false })], layout, SMALL_CONFIG);
}
