// The output bias b as bars, one per feature.

import { CONFIG, Plotly, axis, baseLayout, indexTicks, range } from "./common.js";

/**
 * Draw (or redraw) the bias bᵢ of every feature into `el`.
 * @param {HTMLElement} el the #bias div
 * @param {number[]} b length n
 * @returns {void}
 */
export function renderBias(el, b) {
  const trace = {
    type: "bar",
    x: range(b.length),
    y: b,
    marker: { color: b.map((v) => (v < 0 ? "#4393c3" : "#d6604d")) },
    hovertemplate: "b<sub>%{x}</sub> = %{y:.4f}<extra></extra>",
  };
  const layout = baseLayout({
    bargap: b.length <= 32 ? 0.2 : 0,
    xaxis: axis("feature i", indexTicks(b.length)),
    yaxis: axis("bias b<sub>i</sub>", { zeroline: true }),
  });
  Plotly.react(el, [trace], layout, CONFIG);
}
