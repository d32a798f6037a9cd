// The Gram matrix WᵀW as a heatmap: entry (i, j) is Wᵢ·Wⱼ, the interference between features.

import { CONFIG, Plotly, axis, baseLayout, indexTicks, range } from "./common.js";

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
 * Draw (or redraw) WᵀW into `el`, colours symmetric about 0, feature 0 at the top, square cells.
 * @param {HTMLElement} el the #gram div
 * @param {number[][]} gram n × n
 * @returns {void}
 */
export function renderGram(el, gram) {
  const n = gram.length;
  const zmax = maxAbs(gram);
  const idx = range(n);
  const trace = {
    type: "heatmap",
    z: gram,
    x: idx,
    y: idx,
    zmin: -zmax,
    zmax,
    zmid: 0,
    colorscale: DIVERGING,
    xgap: n <= 32 ? 1 : 0,
    ygap: n <= 32 ? 1 : 0,
    colorbar: { thickness: 12, len: 0.9, title: { text: "W<sub>i</sub>·W<sub>j</sub>", side: "right" } },
    hovertemplate: "(WᵀW)<sub>%{y},%{x}</sub> = %{z:.3f}<extra></extra>",
  };
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
  });
  Plotly.react(el, [trace], layout, CONFIG);
}
