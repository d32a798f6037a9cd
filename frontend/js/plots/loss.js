// The training loss against the step, on a log axis.

import { CONFIG, Plotly, axis, baseLayout } from "./common.js";

/**
 * Draw (or redraw) the loss curve into `el`. Non-positive losses are left out (log axis).
 * @param {HTMLElement} el the #loss div
 * @param {number[]} steps
 * @param {number[]} losses same length as `steps`
 * @returns {void}
 */
export function renderLoss(el, steps, losses) {
  const x = [];
  const y = [];
  for (let i = 0; i < steps.length; i += 1) {
    if (losses[i] > 0 && Number.isFinite(losses[i])) {
      x.push(steps[i]);
      y.push(losses[i]);
    }
  }
  const trace = {
    type: "scatter",
    mode: x.length > 1 ? "lines" : "markers",
    x,
    y,
    line: { color: "#2f6db5", width: 1.5 },
    hovertemplate: "step %{x}<br>L = %{y:.4g}<extra></extra>",
  };
  const layout = baseLayout({
    xaxis: axis("step", { rangemode: "tozero" }),
    yaxis: axis("loss L", { type: "log", dtick: "D2", tickformat: ".2~g" }),
  });
  Plotly.react(el, [trace], layout, CONFIG);
}
