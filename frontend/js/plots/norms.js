// The feature norms ‖Wᵢ‖ as bars, coloured by superposition Σ_{j≠i}(Ŵᵢ·Wⱼ)², as in the paper:
// black when feature i is orthogonal to every other, yellow when it shares its direction. The bars
// and the colour key are also the gallery's (its learning-dynamics replay draws them upright).

import {
  CONFIG,
  Plotly,
  SMALL_CONFIG,
  axis,
  baseLayout,
  colourAt,
  indexTicks,
  range,
  thumbLayout,
} from "./common.js";

/**
 * Black (0, orthogonal) through purple and orange to yellow (≥ 1, superposed).
 * @type {ReadonlyArray<[number, string]>}
 */
export const SUPERPOSITION_SCALE = Object.freeze([
  [0, "#000004"],
  [0.25, "#3b0f70"],
  [0.5, "#8c2981"],
  [0.7, "#de4968"],
  [0.85, "#fe9f6d"],
  [1, "#fcfd8f"],
]);

/**
 * The ‖Wᵢ‖ bars of an instance, coloured by superposition; the hover also gives the superposition
 * and the dimensionality Dᵢ.
 * @param {{feature_norms: number[], superposition: number[], dimensionality: number[]}} instance
 * @param {object} [options]
 * @param {boolean} [options.vertical] features along x, bars upward (else features down y, bars
 *   to the right)
 * @param {boolean} [options.edges] a thin grey edge on each bar while there are ≤ 32 features
 * @returns {object} a bar trace
 */
export function normBars(instance, { vertical = false, edges = true } = {}) {
  const norms = instance.feature_norms;
  const sup = instance.superposition;
  const dims = instance.dimensionality;
  const n = norms.length;
  const [feature, norm] = vertical ? ["x", "y"] : ["y", "x"];
  return {
    type: "bar",
    orientation: vertical ? "v" : "h",
    [norm]: norms,
    [feature]: range(n),
    customdata: norms.map((_, i) => [sup[i], dims[i]]),
    marker: {
      color: sup.map((v) => colourAt(SUPERPOSITION_SCALE, v)),
      line: { color: "#9aa0a6", width: edges && n <= 32 ? 0.5 : 0 },
    },
    hovertemplate:
      `feature %{${feature}}<br>‖W<sub>i</sub>‖ = %{${norm}:.3f}` +
      "<br>Σ<sub>j≠i</sub>(Ŵ<sub>i</sub>·W<sub>j</sub>)² = %{customdata[0]:.3f}" +
      "<br>D<sub>i</sub> = %{customdata[1]:.3f}<extra></extra>",
  };
}

/**
 * The colour key: an empty trace that only carries the colour bar (superposition 0 → 1).
 * @param {string} title the colour bar's title
 * @param {number} [thickness] the colour bar's thickness, in px
 * @returns {object} a scatter trace
 */
export function superpositionKey(title, thickness = 12) {
  return {
    type: "scatter",
    mode: "markers",
    x: [null],
    y: [null],
    hoverinfo: "skip",
    marker: {
      color: [0, 1],
      cmin: 0,
      cmax: 1,
      colorscale: SUPERPOSITION_SCALE,
      showscale: true,
      colorbar: { thickness, len: 0.9, title: { text: title, side: "right" } },
    },
  };
}

/**
 * Draw (or redraw) ‖Wᵢ‖ per feature into `el`, feature 0 at the top like the Gram matrix; the
 * hover text also gives the superposition and the dimensionality Dᵢ.
 * @param {HTMLElement} el the #norms div
 * @param {{feature_norms: number[], superposition: number[], dimensionality: number[]}} instance
 * @param {number} [highlight] the feature whose bar is marked (linked highlight), −1 for none
 * @returns {void}
 */
export function renderNorms(el, instance, highlight = -1) {
  const n = instance.feature_norms.length;
  const key = superpositionKey("colour = superposition<br>Σ<sub>j≠i</sub>(Ŵ<sub>i</sub>·W<sub>j</sub>)²");
  const layout = baseLayout({
    bargap: n <= 32 ? 0.2 : 0,
    xaxis: axis("‖W<sub>i</sub>‖ (feature norm)", { rangemode: "tozero" }),
    yaxis: axis("feature i", { autorange: "reversed", ...indexTicks(n) }),
    shapes:
      highlight >= 0 && highlight < n
        ? [{
          type: "rect", xref: "paper", yref: "y", x0: 0, x1: 1, y0: highlight - 0.5,
          y1: highlight + 0.5, fillcolor: "rgba(255, 170, 0, 0.35)", line: { color: "#111111", width: 1.5 },
          layer: "below",
        }]
        : [],
  });
  el.dataset.highlight = String(highlight);
  Plotly.react(el, [normBars(instance), key], layout, CONFIG);
}

/**
 * A thumbnail of the ‖Wᵢ‖ bars (the gallery's basic grid): upright, no axes, one height scale
 * for every thumbnail of a figure.
 * @param {HTMLElement} el
 * @param {{feature_norms: number[], superposition: number[]}} instance
 * @param {number} normMax the largest ‖Wᵢ‖ of the figure (the bars' common scale)
 * @returns {void}
 */
export function renderNormThumb(el, instance, normMax) {
  const n = instance.feature_norms.length;
  const bars = {
    type: "bar",
    x: range(n),
    y: instance.feature_norms,
    marker: { color: instance.superposition.map((v) => colourAt(SUPERPOSITION_SCALE, v)) },
  };
  const layout = thumbLayout(
    { range: [-0.5, n - 0.5] },
    { range: [0, normMax * 1.05] },
    { bargap: 0.15, plot_bgcolor: "#f5f7f9" },
  );
  Plotly.react(el, [bars], layout, SMALL_CONFIG);
}
