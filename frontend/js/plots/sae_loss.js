// An SAE's training loss (the kept SAE's batch loss) against the step, on a log axis, with each
// resampling of dead latents as a vertical line: orange where latents were revived, grey where
// none was dead.

import { CONFIG, Plotly, axis, baseLayout } from "./common.js";
import { SAE_COLOURS } from "./sae_directions.js";

/**
 * @typedef {object} SaeLossData
 * @property {number[]} history_steps
 * @property {number[]} loss_history
 * @property {Array<{step: number, latents: number[]}>} resampled
 * @property {number} [step] steps done so far
 * @property {{steps: number, architecture?: string}} [request]
 */

/**
 * Draw (or redraw) the loss curve and the resampling events into `el`.
 * @param {HTMLElement} el
 * @param {SaeLossData} sae
 * @returns {void}
 */
export function renderSaeLoss(el, sae) {
  const x = [];
  const y = [];
  sae.history_steps.forEach((step, i) => {
    const loss = sae.loss_history[i];
    if (loss > 0 && Number.isFinite(loss)) {
      x.push(step);
      y.push(loss);
    }
  });
  const lo = y.length ? Math.min(...y) : 1e-3;
  const hi = y.length ? Math.max(...y) : 1;
  const events = sae.resampled ?? [];
  // One trace per kind of event, vertical segments separated by gaps (hoverable, in the legend).
  const eventTrace = (list, name, color, dash) => ({
    type: "scatter",
    mode: "lines",
    x: list.flatMap((e) => [e.step, e.step, null]),
    y: list.flatMap(() => [lo, hi, null]),
    text: list.flatMap((e) => {
      const what = e.latents.length ? `resampled latent${e.latents.length > 1 ? "s" : ""} ${e.latents.join(", ")}` : "no dead latent";
      return [what, what, ""];
    }),
    name,
    line: { color, width: 1.3, dash },
    hovertemplate: "step %{x}: %{text}<extra></extra>",
    showlegend: list.length > 0,
  });
  const traces = [
    {
      type: "scatter",
      mode: x.length > 1 ? "lines" : "markers",
      x,
      y,
      name: "loss",
      line: { color: "#2f6db5", width: 1.5 },
      hovertemplate: "step %{x}<br>loss %{y:.4g}<extra></extra>",
      showlegend: false,
    },
    eventTrace(events.filter((e) => e.latents.length > 0), "resampled dead latents", SAE_COLOURS.resampled, "solid"),
    eventTrace(events.filter((e) => e.latents.length === 0), "resampling, none dead", SAE_COLOURS.dead, "dot"),
  ];
  const steps = sae.request?.steps ?? (x.length ? x[x.length - 1] : 1);
  const layout = baseLayout({
    xaxis: axis("step", { range: [0, steps], rangemode: "tozero" }),
    yaxis: axis(sae.request?.architecture === "topk" ? "loss (MSE)" : "loss (MSE + λ·L1)", { type: "log", dtick: "D2", tickformat: ".2~g" }),
    showlegend: events.length > 0,
    legend: { orientation: "h", x: 0, y: -0.3, font: { size: 10.5 } },
  });
  Plotly.react(el, traces, layout, CONFIG);
}
