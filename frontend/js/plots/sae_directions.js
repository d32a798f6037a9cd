// With two hidden dimensions, the toy model's feature directions W[:, i] and an SAE's decoder
// directions W_dec[:, j] drawn together in the hidden plane (as ARENA's animate_features_in_2d):
// a decoder column that sits on a feature's arrow has learned that feature. Dead latents are drawn
// dashed and grey; latents resampled since the last frame are highlighted.

import { CONFIG, Plotly, axis, baseLayout } from "./common.js";
import { unitCircle } from "./geometry.js";

/** Colours of the drawing (shared with the legend text of the pages). */
export const SAE_COLOURS = Object.freeze({
  feature: "#5f6368",
  latent: "#2f6db5",
  dead: "#a0a7b0",
  resampled: "#e8710a",
});

/**
 * The fields of an SAEResult this plot reads.
 * @typedef {object} SaeDirectionsData
 * @property {number[][]} features the toy model's W, [m][n]
 * @property {number[][]} W_dec the decoder, [m][L], unit-norm columns
 * @property {number[]} latent_frequency [L]; 0 marks a dead latent
 */

/**
 * One trace of arrows from the origin (origin → tip, gap, …), with an arrow head at each tip.
 * @param {number[]} xs tips' x
 * @param {number[]} ys tips' y
 * @param {string[]} names hover names, one per arrow
 * @param {{color: string, width: number, dash?: string, size?: number, name: string,
 *   legend: boolean}} style
 * @returns {object} a Plotly trace
 */
function arrows(xs, ys, names, style) {
  const x = [];
  const y = [];
  const text = [];
  const size = [];
  xs.forEach((tipX, i) => {
    x.push(0, tipX, null);
    y.push(0, ys[i], null);
    text.push(names[i], names[i], "");
    size.push(0, Math.hypot(tipX, ys[i]) > 1e-3 ? (style.size ?? 11) : 0, 0);
  });
  return {
    type: "scatter",
    mode: "lines+markers",
    x,
    y,
    text,
    name: style.name,
    showlegend: style.legend && xs.length > 0,
    line: { color: style.color, width: style.width, dash: style.dash ?? "solid" },
    marker: { symbol: "arrow", angleref: "previous", size, color: style.color, line: { width: 0 } },
    hovertemplate: "%{text}<br>(%{x:.3f}, %{y:.3f})<extra></extra>",
  };
}

/**
 * Draw (or redraw) features and decoder directions into `el` when m = 2; otherwise hide `el`
 * and say why in `note`.
 * @param {HTMLElement} el
 * @param {HTMLElement} note
 * @param {SaeDirectionsData} sae
 * @param {ReadonlySet<number>} [highlighted] latents to highlight (resampled just now)
 * @returns {void}
 */
export function renderSaeDirections(el, note, sae, highlighted = new Set()) {
  const W = sae.features;
  if (W.length !== 2) {
    el.hidden = true;
    note.hidden = false;
    note.textContent =
      `Directions are drawn when the hidden space is a plane (m = 2); this model has m = ${W.length}. ` +
      "The |cosine| matrix shows how the latents match the features in any dimension.";
    return;
  }
  const wasHidden = el.hidden;
  el.hidden = false;
  note.hidden = true;
  const [fx, fy] = W;
  const [dx, dy] = sae.W_dec;
  const n = fx.length;
  const L = dx.length;
  const groups = { live: [], dead: [], resampled: [] };
  for (let j = 0; j < L; j += 1) {
    if (highlighted.has(j)) groups.resampled.push(j);
    else if (!(sae.latent_frequency[j] > 0)) groups.dead.push(j);
    else groups.live.push(j);
  }
  const latentTrace = (ids, style) =>
    arrows(
      ids.map((j) => dx[j]),
      ids.map((j) => dy[j]),
      ids.map((j) => `latent ${j}${style.suffix}`),
      style,
    );
  let reach = 1;
  for (let i = 0; i < n; i += 1) reach = Math.max(reach, Math.hypot(fx[i], fy[i]));
  const r = reach * 1.22;
  const labelAt = (x, y, pad) => {
    const norm = Math.max(Math.hypot(x, y), 1e-3);
    return [x * (1 + pad / norm), y * (1 + pad / norm)];
  };
  const labelX = [];
  const labelY = [];
  const labelText = [];
  const labelColour = [];
  if (n <= 24) {
    for (let i = 0; i < n; i += 1) {
      const [x, y] = labelAt(fx[i], fy[i], 0.1 * r);
      labelX.push(x);
      labelY.push(y);
      labelText.push(`f${i}`);
      labelColour.push(SAE_COLOURS.feature);
    }
  }
  if (L <= 24) {
    for (let j = 0; j < L; j += 1) {
      // Beside the decoder arrow, near its tip: off the line, clear of the feature labels.
      const norm = Math.max(Math.hypot(dx[j], dy[j]), 1e-3);
      const x = 0.78 * dx[j] - (0.1 * r * dy[j]) / norm;
      const y = 0.78 * dy[j] + (0.1 * r * dx[j]) / norm;
      labelX.push(x);
      labelY.push(y);
      labelText.push(`L${j}`);
      labelColour.push(highlighted.has(j) ? SAE_COLOURS.resampled : sae.latent_frequency[j] > 0 ? SAE_COLOURS.latent : SAE_COLOURS.dead);
    }
  }
  const traces = [
    arrows(fx, fy, fx.map((_, i) => `feature ${i} (W[:, ${i}])`), {
      color: SAE_COLOURS.feature,
      width: 3,
      size: 13,
      name: "feature W[:, i]",
      legend: true,
    }),
    latentTrace(groups.live, { color: SAE_COLOURS.latent, width: 1.8, name: "decoder column", legend: true, suffix: "" }),
    latentTrace(groups.dead, {
      color: SAE_COLOURS.dead,
      width: 1.5,
      dash: "dot",
      name: "dead latent",
      legend: true,
      suffix: " (dead)",
    }),
    latentTrace(groups.resampled, {
      color: SAE_COLOURS.resampled,
      width: 3.5,
      size: 14,
      name: "just resampled",
      legend: true,
      suffix: " (just resampled)",
    }),
    {
      type: "scatter",
      mode: "text",
      x: labelX,
      y: labelY,
      text: labelText,
      textfont: { size: 11, color: labelColour },
      hoverinfo: "skip",
      showlegend: false,
    },
  ];
  const layout = baseLayout({
    margin: { l: 44, r: 12, t: 10, b: 40 },
    xaxis: axis("hidden dim 0", { range: [-r, r], zeroline: true }),
    yaxis: axis("hidden dim 1", { range: [-r, r], scaleanchor: "x", scaleratio: 1, zeroline: true }),
    shapes: [unitCircle()],
    showlegend: true,
    legend: { orientation: "h", x: 0, y: -0.18, font: { size: 10.5 }, entrywidth: 0.5, entrywidthmode: "fraction" },
  });
  Plotly.react(el, traces, layout, CONFIG);
  if (wasHidden) Plotly.Plots.resize(el);
}
