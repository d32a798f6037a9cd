// The memorisation page's state, kept by the shared page controller (page.js) and round-tripped
// through the URL hash (#n_features=200&t_min=3&...). It becomes a DoubleDescentRequest: the
// model's fields, with n_train_values log-spaced from t_min to t_max (maths.js), unit-length
// inputs and the warm-up-then-cosine schedule of Henighan et al. (2023) as ARENA 3.0 reproduces it.

import { logSpacedIntegers } from "../maths.js";
import { clampFields, serializeFields } from "../page.js";

/**
 * @typedef {object} MemorisationState
 * @property {number} n_features n
 * @property {number} n_hidden m
 * @property {number} p feature probability
 * @property {number} t_min smallest training set T
 * @property {number} t_max largest T
 * @property {number} points how many T, log-spaced
 * @property {number} steps AdamW steps (the whole training set each step)
 * @property {number} warmup_steps linear warm-up, then cosine decay to 0
 * @property {number} lr peak learning rate
 * @property {number} n_restarts seeds per T, the lowest train loss kept
 * @property {number} seed random seed
 */

/**
 * Every field, with its default and bounds (page.js's Field table). The defaults are the gallery
 * preset's sweep ("double-descent" in server/presets.json), so the page opens from the shipped
 * cache at once.
 * @type {ReadonlyArray<import("../page.js").Field>}
 */
export const MEMO_PROPS = Object.freeze([
  { name: "n_features", type: "int", default: 100, min: 2, max: 10000, limit: "max_features" },
  { name: "n_hidden", type: "int", default: 2, min: 1, max: 256, limit: "max_hidden" },
  { name: "p", type: "float", default: 0.05, min: 1e-4, max: 1 },
  { name: "t_min", type: "int", default: 3, min: 1, max: 10000, limit: "max_train_points" },
  { name: "t_max", type: "int", default: 1000, min: 1, max: 10000, limit: "max_train_points" },
  { name: "points", type: "int", default: 14, min: 1, max: 64, limit: "max_sweep_points" },
  { name: "steps", type: "int", default: 6000, min: 1, max: 50000, limit: "max_steps" },
  { name: "warmup_steps", type: "int", default: 600, min: 0, max: 50000 },
  { name: "lr", type: "float", default: 0.005, min: 1e-5, max: 1 },
  { name: "n_restarts", type: "int", default: 2, min: 1, max: 16, limit: "max_restarts" },
  { name: "seed", type: "int", default: 0, min: 0, max: 2 ** 32 - 1 },
]);

/**
 * The page's own rules after page.js has clamped a state: t_max ≥ t_min, warmup_steps ≤ steps.
 * @param {Record<string, any>} state
 * @returns {Record<string, any>}
 */
export function normaliseMemo(state) {
  return {
    ...state,
    t_max: Math.max(state.t_max, state.t_min),
    warmup_steps: Math.min(state.warmup_steps, state.steps),
  };
}

/**
 * Clamp and complete a state: bad values take defaults, numbers their bounds and server limits;
 * t_max ≥ t_min and warmup_steps ≤ steps.
 * @param {Record<string, unknown>} raw
 * @param {Record<string, number>} [limits] `GET /api/limits`
 * @returns {MemorisationState}
 */
export function clampMemoState(raw, limits = {}) {
  return /** @type {MemorisationState} */ (normaliseMemo(clampFields(MEMO_PROPS, raw, limits)));
}

/**
 * The state as a URL hash body (without "#"), every key in order.
 * @param {MemorisationState} state
 * @returns {string}
 */
export function serializeMemoState(state) {
  return serializeFields(MEMO_PROPS, /** @type {any} */ (state));
}

/**
 * The state as the API's DoubleDescentRequest.
 * @param {MemorisationState} state
 * @returns {Record<string, unknown>}
 */
export function toSweepRequest(state) {
  const request = {
    n_features: state.n_features,
    n_hidden: state.n_hidden,
    feature_probability: state.p,
    normalize_inputs: true,
    lr: state.lr,
    lr_schedule: "warmup_cosine",
    warmup_steps: state.warmup_steps,
    steps: state.steps,
    n_restarts: state.n_restarts,
    seed: state.seed,
    n_train_values: logSpacedIntegers(state.t_min, state.t_max, state.points),
  };
  return request;
}

/**
 * The page's state for a (server-normalised) DoubleDescentRequest, e.g. a gallery preset's.
 * @param {Record<string, any>} request
 * @returns {MemorisationState}
 */
export function stateOfRequest(request) {
  const values = request.n_train_values ?? [3, 3000];
  const p = Array.isArray(request.feature_probability) ? request.feature_probability[0] : request.feature_probability;
  return clampMemoState({
    n_features: request.n_features,
    n_hidden: request.n_hidden,
    p,
    t_min: values[0],
    t_max: values[values.length - 1],
    points: values.length,
    steps: request.steps,
    warmup_steps: request.warmup_steps,
    lr: request.lr,
    n_restarts: request.n_restarts,
    seed: request.seed,
  });
}
