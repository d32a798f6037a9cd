// The gallery's sparsity_sweep view (TMS §"Superposition as a Phase Change", the features-vs-
// sparsity figure): per feature × instance, ‖Wᵢ‖ and the superposition Σⱼ≠ᵢ(Ŵᵢ·Wⱼ)² as two
// heatmaps, and ‖W‖²_F (≈ the features represented) against 1/(1 − S). Clicking opens an instance.

import { Plotly, axis, baseLayout, range } from "../../plots/common.js";
import { SUPERPOSITION_SCALE } from "../../plots/norms.js";
import { formatNumber } from "../../format.js";
import { VIEW_CONFIG, frobeniusSquared, inverseDensity, logAxis, onClickOpen, panelsOf } from "../common.js";

/** @typedef {import("../views.js").ViewContext} ViewContext */

/** Norms from white (0, not represented) to dark blue (≥ 1). */
const NORM_SCALE = Object.freeze([
  [0, "#ffffff"],
  [0.5, "#7fa8d6"],
  [1, "#0b2e59"],
]);

/**
 * Draw (or redraw) the two heatmaps and the ‖W‖²_F curve of the first request.
 * @param {HTMLElement} container
 * @param {ViewContext} ctx
 * @returns {void}
 */
export function renderSparsitySweep(container, ctx) {
  const { instances } = ctx.results[0];
  const n = instances[0].feature_norms.length;
  const m = instances[0].W.length;
  const plots = panelsOf(container, `sweep:${instances.length}:${n}`, [
    ["norms", "Feature norms ‖Wᵢ‖", "Each column one sparsity (1/(1 − S), sparser to the right), each row a feature (most important on top). Near 0: not represented. Click a column to open it."],
    ["superposition", "Superposition Σⱼ≠ᵢ(Ŵᵢ·Wⱼ)²", "0 (black): feature i alone in its direction; ≥ 1 (yellow): it shares its direction with others."],
    ["frobenius", "Features represented ‖W‖²_F = Σᵢ‖Wᵢ‖²", `Against 1/(1 − S) (log axis); dashed: m = ${m}, what the model can hold without superposition.`],
  ]);
  const x = instances.map(inverseDensity);
  const cols = range(instances.length);
  const every = Math.ceil(cols.length / 8); // at most about 8 labels
  const tickvals = cols.filter((k) => k % every === 0);
  const ticktext = tickvals.map((k) => formatNumber(x[k], 2));
  const xaxis = axis("1/(1 − S)", { tickvals, ticktext, showgrid: false, zeroline: false });
  const yaxis = axis("feature i", { autorange: "reversed", showgrid: false, zeroline: false });
  const transpose = (name) => range(n).map((i) => instances.map((inst) => inst[name][i]));
  const customdata = range(n).map(() => cols);
  const heat = (name, z, colorscale, zmax, title) => {
    const trace = {
      type: "heatmap",
      x: cols,
      y: range(n),
      z,
      zmin: 0,
      zmax,
      colorscale,
      customdata,
      colorbar: { thickness: 10, len: 0.9, title: { text: title, side: "right" } },
      hovertemplate: `feature %{y}, 1/(1−S) = %{x}<br>${title} = %{z:.3f}<extra></extra>`,
    };
    Plotly.react(plots[name], [trace], baseLayout({ xaxis, yaxis, margin: { l: 52, r: 8, t: 6, b: 44 } }), VIEW_CONFIG);
    onClickOpen(plots[name], ctx);
  };
  heat("norms", transpose("feature_norms"), NORM_SCALE, Math.max(1, ...instances.flatMap((i) => i.feature_norms)), "‖Wᵢ‖");
  heat("superposition", transpose("superposition"), SUPERPOSITION_SCALE, 1, "superposition");

  const frob = instances.map(frobeniusSquared);
  const line = {
    type: "scatter",
    mode: "lines+markers",
    x,
    y: frob,
    customdata: cols,
    marker: { size: 7, color: "#2f6db5" },
    hovertemplate: "1/(1−S) = %{x:.3g}<br>‖W‖²_F = %{y:.2f}<extra></extra>",
  };
  const layout = baseLayout({
    xaxis: logAxis("1/(1 − S)", x),
    yaxis: axis("‖W‖²_F", { rangemode: "tozero" }),
    shapes: [
      { type: "line", xref: "paper", x0: 0, x1: 1, y0: m, y1: m, line: { dash: "dash", color: "#5f6b7a", width: 1 } },
    ],
    annotations: [
      { xref: "paper", x: 1, y: m, yanchor: "bottom", xanchor: "right", text: `m = ${m}`, showarrow: false, font: { size: 11, color: "#5f6b7a" } },
    ],
  });
  Plotly.react(plots.frobenius, [line], layout, VIEW_CONFIG);
  onClickOpen(plots.frobenius, ctx);
}
