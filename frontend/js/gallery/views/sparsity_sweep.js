// The gallery's sparsity_sweep view (TMS §"Superposition as a Phase Change", the features-vs-
// sparsity figure): per feature × instance, ‖Wᵢ‖ and the superposition Σⱼ≠ᵢ(Ŵᵢ·Wⱼ)² as two
// heatmaps, and ‖W‖²_F (≈ the features represented) against 1/(1 − S). Clicking opens an instance.

import { SUPERPOSITION_SCALE } from "../../plots/norms.js";
import { NORM_SCALE, renderFeatureHeatmap, renderPerInstance } from "../../plots/sweep.js";
import { inverseDensity, onClickOpen, panelsOf } from "../common.js";

/** @typedef {import("../views.js").ViewContext} ViewContext */

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
  const normMax = Math.max(1, ...instances.flatMap((i) => i.feature_norms));
  renderFeatureHeatmap(plots.norms, instances, x, { name: "feature_norms", colorscale: NORM_SCALE, zmax: normMax, title: "‖Wᵢ‖" });
  renderFeatureHeatmap(plots.superposition, instances, x, { name: "superposition", colorscale: SUPERPOSITION_SCALE, zmax: 1, title: "superposition" });
  // ‖W‖²_F per instance: the server's (frobenius_squared)
  renderPerInstance(plots.frobenius, x, instances.map((inst) => inst.frobenius_squared), {
    title: "‖W‖²_F",
    level: { y: m, text: `m = ${m}` },
  });
  for (const name of ["norms", "superposition", "frobenius"]) onClickOpen(plots[name], ctx);
}
