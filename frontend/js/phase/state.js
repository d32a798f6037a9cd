// The phase-diagram page's state: one plain object round-tripped through the URL hash
// (#n_features=2&grid_size=32&...). Its keys are the API's PhaseDiagramRequest fields, with the
// two ranges split into first/last ends.

import { clampFields, parseHashFields, serializeFields } from "../page.js";

/**
 * @typedef {object} PhaseState
 * @property {number} n_features 2 (2 → 1) or 3 (3 → 2)
 * @property {number} grid_size cells per axis
 * @property {number} p_first feature probability of the first column
 * @property {number} p_last feature probability of the last column
 * @property {number} r_first the extra feature's importance in the first row
 * @property {number} r_last ... in the last row
 * @property {number|"auto"} n_restarts seeds per cell; "auto": the server's default (10, or 8
 *   for n = 3)
 * @property {number} steps AdamW steps
 * @property {number} seed random seed
 */

/**
 * Every field, with its default and bounds (page.js's Field table). Defaults are the API's (so
 * the shipped diagrams in models_cache/ answer the page's first request at once); restarts are
 * "auto" unless set: the server's 3, or 8 for n = 3.
 * @type {ReadonlyArray<import("../page.js").Field>}
 */
export const PHASE_PROPS = Object.freeze([
  { name: "n_features", type: "enum", default: 2, values: [2, 3] },
  { name: "grid_size", type: "int", default: 32, min: 2, max: 64, limit: "max_grid_size" },
  { name: "p_first", type: "float", default: 1, min: 1e-4, max: 1 },
  { name: "p_last", type: "float", default: 0.01, min: 1e-4, max: 1 },
  { name: "r_first", type: "float", default: 0.1, min: 1e-3, max: 1e3 },
  { name: "r_last", type: "float", default: 10, min: 1e-3, max: 1e3 },
  { name: "n_restarts", type: "int", default: "auto", min: 1, max: 16, limit: "max_restarts", auto: true },
  { name: "steps", type: "int", default: 1000, min: 1, max: 50000, limit: "max_steps" },
  { name: "seed", type: "int", default: 0, min: 0, max: 2 ** 32 - 1 },
]);

/**
 * Clamp and complete a state: bad values take defaults, numbers their bounds and server limits.
 * @param {Record<string, unknown>} raw
 * @param {Record<string, number>} [limits] `GET /api/limits`
 * @returns {PhaseState}
 */
export function clampPhaseState(raw, limits = {}) {
  return /** @type {PhaseState} */ (/** @type {unknown} */ (clampFields(PHASE_PROPS, raw, limits)));
}

/**
 * Read a state from a URL hash; missing or bad keys take their defaults.
 * @param {string} hash
 * @param {Record<string, number>} [limits]
 * @returns {PhaseState}
 */
export function parsePhaseHash(hash, limits) {
  return /** @type {PhaseState} */ (/** @type {unknown} */ (parseHashFields(PHASE_PROPS, hash, limits)));
}

/**
 * The state as a URL hash body (without "#"), every key in order.
 * @param {PhaseState} state
 * @returns {string}
 */
export function serializePhaseState(state) {
  return serializeFields(PHASE_PROPS, /** @type {any} */ (state));
}

/**
 * The state as the API's PhaseDiagramRequest. Batch size and lr keep the API's defaults.
 * @param {PhaseState} state
 * @returns {Record<string, unknown>}
 */
export function toPhaseRequest(state) {
  /** @type {Record<string, unknown>} */
  const request = {
    n_features: state.n_features,
    n_hidden: state.n_features - 1,
    grid_size: state.grid_size,
    feature_probability_range: [state.p_first, state.p_last],
    relative_importance_range: [state.r_first, state.r_last],
    steps: state.steps,
    seed: state.seed,
  };
  if (state.n_restarts !== "auto") request.n_restarts = state.n_restarts;
  return request;
}

/**
 * The explorer's URL for one cell's model: that p, importances (1, r) or (1, 1, r), the
 * diagram's seed and restarts.
 * @param {{n_features: number, n_hidden: number, n_restarts: number, seed: number}} request
 *   the diagram's (server-normalised) request
 * @param {number} p
 * @param {number} r
 * @returns {string}
 */
export function explorerUrl(request, p, r) {
  const importance = [...Array(request.n_features - 1).fill(1), Number(r.toPrecision(6))];
  const params = new URLSearchParams({
    n_features: String(request.n_features),
    n_hidden: String(request.n_hidden),
    feature_probability: String(Number(p.toPrecision(6))),
    importance: importance.join(","),
    activation: "relu",
    seed: String(request.seed),
    n_restarts: String(request.n_restarts),
  });
  return `/#${params.toString()}`;
}
