// The training loss against the step, on a log axis, beside the theory's closed-form losses.

import { CONFIG, Plotly, axis, baseLayout } from "./common.js";

/** Labels of the closed-form losses (THEORY.md). */
const THEORY_NAMES = Object.freeze({
  linear_optimum: "F3: best without superposition",
  uniform_dedicated: "F11: m dedicated",
  uniform_antipodal_pairs: "F11: m antipodal pairs",
});
const THEORY_COLOURS = ["#6b7480", "#3c8d5a", "#c4453c"];

/**
 * Draw (or redraw) the loss curve into `el`. Non-positive losses are left out (log axis).
 * @param {HTMLElement} el the #loss div
 * @param {number[]} steps
 * @param {number[]} losses same length as `steps`
 * @param {Record<string, number>} [theory] the instance's `theory_loss` (THEORY.md F3, F11),
 *   drawn as dashed horizontal lines
 * @returns {void}
 */
export function renderLoss(el, steps, losses, theory = {}) {
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
  const span = x.length ? [Math.min(0, x[0]), x[x.length - 1]] : [0, 1];
  const lines = Object.entries(theory)
    .filter(([, value]) => value > 0 && Number.isFinite(value))
    .map(([name, value], i) => ({
      type: "scatter",
      mode: "lines",
      x: span,
      y: [value, value],
      line: { color: THEORY_COLOURS[i % THEORY_COLOURS.length], width: 1.2, dash: "dash" },
      name: THEORY_NAMES[name] ?? name,
      hovertemplate: `${THEORY_NAMES[name] ?? name}<br>L = %{y:.4g}<extra></extra>`,
    }));
  const layout = baseLayout({
    xaxis: axis("step", { rangemode: "tozero" }),
    yaxis: axis("loss L", { type: "log", dtick: "D2", tickformat: ".2~g" }),
  });
  layout.showlegend = lines.length > 0;
  layout.legend = { orientation: "h", y: -0.3, font: { size: 10.5 } };
  Plotly.react(el, [{ ...trace, name: "trained", showlegend: false }, ...lines], layout, CONFIG);
}
