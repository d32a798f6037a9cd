// How often each SAE latent fires (fraction of fresh samples), beside the toy model's feature
// probability: a latent that has learned one feature fires about as often as that feature is
// active. Dead latents (never firing) are marked.

import { CONFIG, Plotly, axis, baseLayout, indexTicks } from "./common.js";
import { SAE_COLOURS } from "./sae_directions.js";

/**
 * @typedef {object} SaeFrequencyData
 * @property {number[]} latent_frequency [L]
 * @property {number[]} feature_probability [n]
 */

/**
 * Draw (or redraw) the firing frequencies into `el`.
 * @param {HTMLElement} el
 * @param {SaeFrequencyData} sae
 * @returns {void}
 */
export function renderSaeFrequency(el, sae) {
  const freq = sae.latent_frequency;
  const L = freq.length;
  const x = freq.map((_, j) => j);
  const dead = x.filter((j) => !(freq[j] > 0));
  const probabilities = [...new Set(sae.feature_probability.map((p) => Number(p.toPrecision(4))))];
  const top = Math.max(...freq, ...probabilities, 0.01) * 1.15;
  const traces = [
    {
      type: "bar",
      x,
      y: freq,
      name: "latent fires",
      showlegend: false,
      marker: { color: SAE_COLOURS.latent },
      hovertemplate: "latent %{x}<br>fires on %{y:.4f} of samples<extra></extra>",
    },
    {
      type: "scatter",
      mode: "markers",
      x: dead,
      y: dead.map(() => top * 0.03),
      name: "dead (never fires)",
      marker: { symbol: "x", size: 9, color: "#c5221f" },
      hovertemplate: "latent %{x}: dead<extra></extra>",
      showlegend: dead.length > 0,
    },
    ...probabilities.map((p, i) => ({
      type: "scatter",
      mode: "lines",
      x: [-0.5, L - 0.5],
      y: [p, p],
      name: "feature probability p",
      line: { color: "#3c8d5a", width: 1.5, dash: "dash" },
      hovertemplate: `feature probability p = ${p}<extra></extra>`,
      showlegend: i === 0,
    })),
  ];
  const layout = baseLayout({
    xaxis: axis("latent j", { range: [-0.5, L - 0.5], ...indexTicks(L) }),
    yaxis: axis("fraction of samples firing", { range: [0, top], rangemode: "tozero" }),
    showlegend: true,
    legend: { orientation: "h", x: 0, y: -0.3, font: { size: 10.5 } },
    bargap: 0.25,
  });
  Plotly.react(el, traces, layout, CONFIG);
}
