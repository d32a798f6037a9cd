// The feature norms ‖Wᵢ‖ as bars, coloured by superposition Σ_{j≠i}(Ŵᵢ·Wⱼ)², as in the paper:
// black when feature i is orthogonal to every other, yellow when it shares its direction.

import { CONFIG, Plotly, axis, baseLayout, colourAt, indexTicks, range } from "./common.js";

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
 * Draw (or redraw) ‖Wᵢ‖ per feature into `el`, feature 0 at the top like the Gram matrix; the
 * hover text also gives the superposition and the dimensionality Dᵢ.
 * @param {HTMLElement} el the #norms div
 * @param {{feature_norms: number[], superposition: number[], dimensionality: number[]}} instance
 * @returns {void}
 */
export function renderNorms(el, instance) {
  const norms = instance.feature_norms;
  const sup = instance.superposition;
  const dims = instance.dimensionality;
  const n = norms.length;
  const bars = {
    type: "bar",
    orientation: "h",
    x: norms,
    y: range(n),
    customdata: norms.map((_, i) => [sup[i], dims[i]]),
    marker: {
      color: sup.map((v) => colourAt(SUPERPOSITION_SCALE, v)),
      line: { color: "#9aa0a6", width: n <= 32 ? 0.5 : 0 },
    },
    hovertemplate:
      "feature %{y}<br>‖W<sub>i</sub>‖ = %{x:.3f}" +
      "<br>Σ<sub>j≠i</sub>(Ŵ<sub>i</sub>·W<sub>j</sub>)² = %{customdata[0]:.3f}" +
      "<br>D<sub>i</sub> = %{customdata[1]:.3f}<extra></extra>",
  };
  // The colour key: an empty trace that only carries the colour bar (superposition 0 → 1).
  const key = {
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
      colorbar: {
        thickness: 12,
        len: 0.9,
        title: {
          text: "colour = superposition<br>Σ<sub>j≠i</sub>(Ŵ<sub>i</sub>·W<sub>j</sub>)²",
          side: "right",
        },
      },
    },
  };
  const layout = baseLayout({
    bargap: n <= 32 ? 0.2 : 0,
    xaxis: axis("‖W<sub>i</sub>‖ (feature norm)", { rangemode: "tozero" }),
    yaxis: axis("feature i", { autorange: "reversed", ...indexTicks(n) }),
  });
  Plotly.react(el, [bars, key], layout, CONFIG);
}
