// The gallery's loss_branches view (TMS §"Non-Uniform Superposition": the pentagon's collapse is a
// first-order phase change, because the losses of the two geometries cross). One feature's
// sparsity varies across the instances, several seeds each (n_restarts = 1, so every seed is kept):
// each seed's loss against that feature's 1/(1 − S), coloured by the geometry it ended in
// (server/claims.py classifies the same way). Clicking a point opens that seed's model.

import { formatNumber } from "../../format.js";
import { CONFIG, Plotly, axis, baseLayout } from "../../plots/common.js";
import { logAxis } from "../../plots/sweep.js";
import { onClickOpen, panelsOf } from "../common.js";

/** @typedef {import("../views.js").ViewContext} ViewContext */

/** Geometry names and colours, in legend order. */
const GEOMETRIES = Object.freeze([
  ["pentagon", "pentagon, deformed (every feature kept)", "#c4453c"],
  ["collapsed", "two digons, the varied feature at zero", "#2f6db3"],
  ["other", "other", "#9aa0a6"],
]);

/**
 * The feature whose probability differs between instances (the last one when none does).
 * @param {ReadonlyArray<Record<string, any>>} instances
 * @returns {number}
 */
export function variedFeature(instances) {
  const first = instances[0].feature_probability;
  if (!Array.isArray(first)) return 0;
  for (let i = 0; i < first.length; i += 1) {
    if (instances.some((inst) => inst.feature_probability[i] !== first[i])) return i;
  }
  return first.length - 1;
}

/**
 * An instance's branch: "pentagon" when every feature has ‖Wᵢ‖ > 0.5 (the pentagon, deformed as
 * the varied feature's sparsity moves); "collapsed" when the varied feature has ‖W‖ < 0.1 and the
 * other four, all learned, form two antipodal pairs (cos ≤ −0.95); "other" otherwise.
 * @param {Record<string, any>} inst InstanceResult (W, feature_norms; the gallery asks for no gram)
 * @param {number} varied
 * @returns {string}
 */
export function geometryOf(inst, varied) {
  const norms = /** @type {number[]} */ (inst.feature_norms);
  const W = /** @type {number[][]} */ (inst.W);
  const dot = (/** @type {number} */ i, /** @type {number} */ j) => W.reduce((sum, row) => sum + row[i] * row[j], 0);
  const learned = norms.map((n) => n > 0.5);
  if (learned.every(Boolean)) return "pentagon";
  let pairs = 0;
  for (let i = 0; i < norms.length; i += 1) {
    for (let j = i + 1; j < norms.length; j += 1) {
      if (learned[i] && learned[j] && dot(i, j) / (norms[i] * norms[j]) <= -0.95) pairs += 1;
    }
  }
  const others = learned.filter((_, i) => i !== varied);
  if (norms[varied] < 0.1 && others.every(Boolean) && pairs === 2) return "collapsed";
  return "other";
}

/**
 * Draw (or redraw) every seed's loss against the varied feature's 1/(1 − S).
 * @param {HTMLElement} container
 * @param {ViewContext} ctx
 * @returns {void}
 */
export function renderLossBranches(container, ctx) {
  const { instances } = ctx.results[0];
  const varied = variedFeature(instances);
  const plots = panelsOf(container, `branches:${instances.length}`, [
    [
      "branches",
      `Every seed's loss against feature ${varied}'s sparsity`,
      `Each point one seed (none picked over another), at feature ${varied}'s 1/(1 − S) (log axis; the other features stay at their own). Colour: the geometry it ended in. Where the two branches' losses cross, the best geometry changes discontinuously: a first-order phase change. Click a point to open that model.`,
    ],
  ]);
  const x = instances.map((inst) => {
    const fp = inst.feature_probability;
    return 1 / (Array.isArray(fp) ? fp[varied] : fp);
  });
  const kinds = instances.map((inst) => geometryOf(inst, varied));
  const traces = GEOMETRIES.map(([kind, name, color]) => {
    const picked = instances.map((_, k) => k).filter((k) => kinds[k] === kind);
    return {
      type: "scatter",
      mode: "markers",
      name: `${name} (${picked.length})`,
      x: picked.map((k) => x[k]),
      y: picked.map((k) => instances[k].loss),
      customdata: picked,
      marker: { size: 7, color, opacity: 0.8 },
      text: picked.map((k) => `instance ${k}, 1 − S = ${formatNumber(1 / x[k])}`),
      hovertemplate: "%{text}<br>L = %{y:.4g}<extra></extra>",
    };
  });
  const layout = baseLayout({
    showlegend: true,
    legend: { orientation: "h", y: -0.22, font: { size: 10.5 } },
    xaxis: logAxis(`1/(1 − S) of feature ${varied}`, x),
    yaxis: axis("loss L (fresh samples)"),
  });
  Plotly.react(plots.branches, traces, layout, CONFIG);
  onClickOpen(plots.branches, ctx);
}
