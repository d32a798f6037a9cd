// The |cosine| between every toy-model feature (rows) and every SAE decoder column (columns), the
// columns in the server's `latent_order` (each matched latent under its feature, unmatched ones
// last): a recovered dictionary shows a bright diagonal. Fixed colour scale 0..1.

import { CONFIG, Plotly, axis, baseLayout, indexTicks } from "./common.js";

/**
 * @typedef {object} SaeCosinesData
 * @property {number[][]} cosines cos(W[:, i], W_dec[:, j]), signed, [n][L]
 * @property {number[]} latent_order the latents in column order
 */

/**
 * Draw (or redraw) the |cosine| matrix into `el`.
 * @param {HTMLElement} el
 * @param {SaeCosinesData} sae
 * @returns {void}
 */
export function renderSaeCosines(el, sae) {
  const order = sae.latent_order?.length ? sae.latent_order : sae.cosines[0]?.map((_, j) => j) ?? [];
  const n = sae.cosines.length;
  const L = order.length;
  const z = sae.cosines.map((row) => order.map((j) => Math.abs(row[j])));
  const signed = sae.cosines.map((row) => order.map((j) => row[j]));
  const x = order.map((j) => `L${j}`);
  const y = sae.cosines.map((_, i) => `f${i}`);
  const trace = {
    type: "heatmap",
    z,
    x,
    y,
    customdata: signed,
    zmin: 0,
    zmax: 1,
    colorscale: "Viridis",
    colorbar: { title: { text: "|cos|", side: "right" }, thickness: 12, len: 0.9, tickvals: [0, 0.5, 1] },
    hovertemplate: "feature %{y} · latent %{x}<br>cos = %{customdata:.3f}<extra></extra>",
    xgap: L <= 40 ? 1 : 0,
    ygap: n <= 40 ? 1 : 0,
  };
  if (L <= 8 && n <= 12) {
    trace.texttemplate = "%{z:.2f}";
    trace.textfont = { size: 10 };
  }
  const layout = baseLayout({
    margin: { l: 52, r: 10, t: 10, b: 44 },
    // Past a few dozen latents their ids would overprint: hover names each column instead.
    xaxis: axis(L > 24 ? "latents, ordered by matched feature (hover: ids)" : "latent j (ordered by matched feature)", {
      type: "category",
      tickangle: 0,
      showticklabels: L <= 24,
      ...indexTicks(L),
    }),
    yaxis: axis("feature i", { type: "category", autorange: "reversed" }),
  });
  Plotly.react(el, [trace], layout, CONFIG);
}
