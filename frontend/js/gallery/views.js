// The gallery's views: a preset's `view` name → the function that draws it, and a one-line
// description of each for the cards. A new view is one file in views/ (drawing through plots/)
// and one entry in each of the two tables below. Every view has the same interface (ViewContext below); it is
// called again on every live update, so it reuses its plots (Plotly.react).

import { renderBasicGrid } from "./views/basic_grid.js";
import { renderDoubleDescent } from "./views/double_descent.js";
import { renderDynamics } from "./views/dynamics.js";
import { renderFeatureGeometry } from "./views/feature_geometry.js";
import { renderGeometry2d } from "./views/geometry_2d.js";
import { renderGeometry3d } from "./views/geometry_3d.js";
import { renderLossBranches } from "./views/loss_branches.js";
import { renderNeurons } from "./views/neurons.js";
import { renderPhaseDiagram } from "./views/phase_diagram.js";
import { renderPower } from "./views/power.js";
import { renderSae } from "./views/sae.js";
import { renderSparsitySweep } from "./views/sparsity_sweep.js";
import { renderVulnerabilityView } from "./views/vulnerability.js";

/**
 * One request's result as the views get it: the cached or final ModelResult, or while training
 * live the preset's request with the latest snapshot's instances (no snapshots, no loss history).
 * @typedef {object} ViewResult
 * @property {Record<string, any>} request the ModelRequest
 * @property {Array<Record<string, any>>} instances InstanceResult[]
 * @property {Array<Record<string, any>>|null} [snapshots] SnapshotSummary[] (final results only)
 * @property {Array<{step: number, loss: number[]}>} [loss_history] (final results only)
 * @property {string} [id] the cache id (final results only)
 */

/**
 * @typedef {object} ViewContext
 * @property {Record<string, any>} preset the PresetInfo (GET /api/presets)
 * @property {ViewResult[]} results one per request of the preset, in order
 * @property {(requestIndex: number, instanceIndex: number) => void} openInstance shows one
 *   instance's WᵀW and ‖Wᵢ‖ under the view
 * @property {(path: string, init?: RequestInit) => Promise<any>} fetchJson api.js's
 */

/**
 * @typedef {(container: HTMLElement, ctx: ViewContext) => void|Promise<void>} ViewRenderer
 */

/** @type {Readonly<Record<string, ViewRenderer>>} */
export const VIEWS = Object.freeze({
  basic_grid: renderBasicGrid,
  geometry_2d: renderGeometry2d,
  geometry_3d: renderGeometry3d,
  sparsity_sweep: renderSparsitySweep,
  feature_geometry: renderFeatureGeometry,
  dynamics: renderDynamics,
  neurons: renderNeurons,
  phase_diagram: renderPhaseDiagram,
  sae: renderSae,
  double_descent: renderDoubleDescent,
  power: renderPower,
  vulnerability: renderVulnerabilityView,
  loss_branches: renderLossBranches,
});

/** What each view shows, in a line (the cards). */
export const VIEW_KINDS = Object.freeze({
  basic_grid: "WᵀW and ‖Wᵢ‖ per model and sparsity",
  geometry_2d: "feature directions in the hidden plane",
  geometry_3d: "feature directions in 3-D, turnable",
  sparsity_sweep: "‖Wᵢ‖ and superposition across sparsity",
  feature_geometry: "dimensions per feature vs sparsity",
  dynamics: "feature dimensionality through training",
  neurons: "neurons: monosemantic vs polysemantic",
  phase_diagram: "phase diagram (opens the phase page)",
  sae: "sparse autoencoder: decoder vs features",
  double_descent: "double descent: loss against T (opens the memorisation page)",
  power: "power activations: gain against p (opens the power page)",
  vulnerability: "adversarial vulnerability against features per dimension",
  loss_branches: "every seed's loss against sparsity, coloured by geometry",
});
