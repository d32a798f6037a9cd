// The training loss against the step, on a log axis, beside the theory's closed-form losses.

import { CONFIG, Plotly, axis, baseLayout, fontSize } from "./common.js";

/** Labels of the closed-form losses (docs/THEORY.md), in legend order. */
export const THEORY_NAMES = Object.freeze({
  zero_output: "x′ = 0: zero output",
  linear_optimum: "F3: best linear, no superposition",
  power_unsuperposed: "F15: best without superposition",
  uniform_dedicated: "F11: m dedicated",
  uniform_antipodal_pairs: "F11: m antipodal pairs",
});
/** One colour per closed-form loss, so that a line keeps its colour from model to model. */
const THEORY_COLOURS = Object.freeze({
  zero_output: "#a0a7b0",
  linear_optimum: "#6b7480",
  power_unsuperposed: "#8a5cc2",
  uniform_dedicated: "#3c8d5a",
  uniform_antipodal_pairs: "#c4453c",
});
const OTHER_COLOURS = ["#b07a1f", "#2a9d9d", "#d05a9e"];

/**
 * The closed-form losses worth a line, in legend order (known names first): positive and finite
 * (the axis is logarithmic).
 * @param {Record<string, number>} theory
 * @returns {Array<[string, number]>}
 */
export function theoryLines(theory) {
  const order = Object.keys(THEORY_NAMES);
  const rank = (name) => (order.includes(name) ? order.indexOf(name) : order.length);
  return Object.entries(theory ?? {})
    .filter(([, value]) => typeof value === "number" && value > 0 && Number.isFinite(value))
    .sort(([a], [b]) => rank(a) - rank(b));
}

/**
 * Draw (or redraw) the loss curve into `el`. Non-positive losses are left out (log axis).
 * @param {HTMLElement} el the #loss div
 * @param {number[]} steps
 * @param {number[]} losses same length as `steps`
 * @param {Record<string, number>} [theory] the instance's `theory_loss` (docs/THEORY.md F3, F11, F15,
 *   and the zero output's loss), drawn as dashed horizontal lines
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
  const lines = theoryLines(theory).map(([name, value], i) => ({
    type: "scatter",
    mode: "lines",
    x: span,
    y: [value, value],
    line: {
      color: THEORY_COLOURS[name] ?? OTHER_COLOURS[i % OTHER_COLOURS.length],
      width: 1.2,
      dash: name === "zero_output" ? "dot" : "dash",
    },
    name: THEORY_NAMES[name] ?? name.replaceAll("_", " "),
    hovertemplate: `${THEORY_NAMES[name] ?? name.replaceAll("_", " ")}<br>L = %{y:.4g}<extra></extra>`,
  }));
  const layout = baseLayout({
    xaxis: axis("step", { rangemode: "tozero" }),
    yaxis: axis("loss L", { type: "log", dtick: "D2", tickformat: ".2~g" }),
  });
  layout.showlegend = lines.length > 0;
  layout.legend = { orientation: "h", y: -0.3, font: { size: fontSize(10.5) } };
  Plotly.react(el, [{ ...trace, name: "trained", showlegend: false }, ...lines], layout, CONFIG);
}
