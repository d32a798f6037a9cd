// The gallery's feature_geometry view (TMS §"The Geometry of Superposition"): D*, the dimensions
// per feature, of each instance, and every learned feature's dimensionality Dᵢ, against
// 1/(1 − S), with the fractions of the uniform polytopes as dashed lines. Clicking opens an instance.

import { renderFeatureDimensionalities, renderPerInstance } from "../../plots/sweep.js";
import { inverseDensity, onClickOpen, panelsOf } from "../common.js";

/** @typedef {import("../views.js").ViewContext} ViewContext */

/** Features shorter than this are not learned and are left out of the Dᵢ scatter. */
const MIN_NORM = 0.1;

/**
 * Draw (or redraw) D* and the Dᵢ scatter of the first request.
 * @param {HTMLElement} container
 * @param {ViewContext} ctx
 * @returns {void}
 */
export function renderFeatureGeometry(container, ctx) {
  const { instances } = ctx.results[0];
  const plots = panelsOf(container, `geometry:${instances.length}`, [
    ["dstar", "Dimensions per feature D* = m / ‖W‖²_F", "One point per sparsity; dashed: the polytopes' fractions. Click a point to open that model."],
    ["features", "Each feature's dimensionality Dᵢ", `Features with ‖Wᵢ‖ < ${MIN_NORM} are not learned and are left out; x jittered slightly; colour = superposition Σⱼ≠ᵢ(Ŵᵢ·Wⱼ)², black 0 to yellow ≥ 1. Click a point to open its model.`],
  ]);
  const x = instances.map(inverseDensity);
  renderPerInstance(plots.dstar, x, instances.map((inst) => inst.dimensions_per_feature), {
    title: "D*",
    yRange: [0, 1.1],
    fractions: true,
  });
  onClickOpen(plots.dstar, ctx);
  renderFeatureDimensionalities(plots.features, instances, x, MIN_NORM);
  onClickOpen(plots.features, ctx);
}
