// The power-activation page's state: the shared page controller's fields (page.js), round-tripped
// through the URL hash (#k=3&m=2,3&magnitude=uniform&n_features=auto&p_min=0.001&...). A state is
// a PowerSweepRequest (POST /api/power-sweeps/plan: the server log-spaces p and applies the power
// rule n = mᵏ + 1, so that the default sweep is exactly the shipped one) plus the drawing's
// adjustable constant C, a view field that never retrains.

import { serializeFields } from "../page.js";

/**
 * @typedef {object} PowerState
 * @property {1|3|5} k the power of the activation x′ = (WᵀWx)ᵏ
 * @property {string} m the hidden dimensions, "2,3": one training each (ascending, distinct)
 * @property {"uniform"|"boolean"} magnitude ξ ~ U[−1, 1], or ±1 with a fair sign
 * @property {number|"auto"} n_features n for every m, or "auto": the server's n = mᵏ + 1
 * @property {number} p_min the sweep's smallest feature probability
 * @property {number} p_max ... and largest
 * @property {number} points how many p values, log-spaced from p_min to p_max
 * @property {number} steps AdamW steps
 * @property {number} batch_size samples per step
 * @property {number} seed random seed
 * @property {number} shape_c the constant C the theorem's scaling shapes are drawn with
 */

/** At most this many m per sweep: one training each (the server's MAX_M_VALUES). */
export const MAX_M_VALUES = 6;

/**
 * Every field, with its page default and bounds; the defaults are replaced by the request
 * schema's (PowerSweepRequest) where the server gives one, so the page opens on the shipped sweep.
 * @type {ReadonlyArray<import("../page.js").Field>}
 */
export const POWER_FIELDS = Object.freeze([
  { name: "k", type: "enum", default: 3, values: [1, 3, 5] },
  { name: "m", type: "list", default: "2,3", schema: "n_hidden" },
  { name: "magnitude", type: "enum", default: "uniform", values: ["uniform", "boolean"] },
  { name: "n_features", type: "int", default: "auto", min: 1, max: 10000, limit: "max_features", auto: true },
  { name: "p_min", type: "float", default: 1e-3, min: 1e-6, max: 1 },
  { name: "p_max", type: "float", default: 0.5, min: 1e-6, max: 1 },
  { name: "points", type: "int", default: 8, min: 1, max: 64, limit: "max_instances" },
  { name: "steps", type: "int", default: 4000, min: 1, max: 50000, limit: "max_steps" },
  { name: "batch_size", type: "int", default: 1024, min: 1, max: 8192, limit: "max_batch_size" },
  { name: "seed", type: "int", default: 0, min: 0, max: 2 ** 32 - 1 },
  { name: "shape_c", type: "float", default: 1, min: 1e-3, max: 1e3, view: true },
]);

/** The constant C's slider works on log₁₀ C within these bounds. */
export const SHAPE_C_LOG_RANGE = Object.freeze({ min: -3, max: 3, step: 0.05 });

/**
 * Read a list of m from text ("2, 3,5"): positive integers, distinct, ascending, at most
 * {@link MAX_M_VALUES}. Values beyond the server's max_hidden are kept: the server refuses them
 * with a message naming its limit, which the page shows. Nothing usable gives "2,3".
 * @param {unknown} text
 * @returns {number[]}
 */
export function parseMList(text) {
  const values = String(text ?? "")
    .split(/[\s,;]+/)
    .filter((part) => part !== "")
    .map(Number)
    .filter((v) => Number.isInteger(v) && v >= 1 && v <= 1e6);
  const distinct = [...new Set(values)].sort((a, b) => a - b).slice(0, MAX_M_VALUES);
  return distinct.length ? distinct : [2, 3];
}

/**
 * The page's own rules after page.js has clamped the fields: m a clean list, a reversed p range
 * put the right way round.
 * @param {Record<string, any>} state
 * @returns {Record<string, any>}
 */
export function normalisePower(state) {
  const out = { ...state, m: parseMList(state.m).join(",") };
  if (out.p_min > out.p_max) [out.p_min, out.p_max] = [out.p_max, out.p_min];
  return out;
}

/**
 * The state as the API's PowerSweepRequest.
 * @param {PowerState} state
 * @returns {Record<string, unknown>}
 */
export function toSweepRequest(state) {
  return {
    k: state.k,
    n_hidden: parseMList(state.m),
    magnitude: state.magnitude,
    n_features: state.n_features === "auto" ? null : state.n_features,
    p_min: state.p_min,
    p_max: state.p_max,
    points: state.points,
    steps: state.steps,
    batch_size: state.batch_size,
    seed: state.seed,
  };
}

/**
 * The query of `GET /api/theory/power` for one run of a plan.
 * @param {{request: Record<string, any>, theory_range: [number, number]}} plan the server's plan
 * @param {{n_hidden: number, n_features: number}} run
 * @param {number} [points] samples along each line
 * @returns {string} the path with its query
 */
export function theoryPath(plan, run, points = 100) {
  const [pMin, pMax] = plan.theory_range;
  const query = new URLSearchParams({
    k: String(plan.request.k),
    n_hidden: String(run.n_hidden),
    n_features: String(run.n_features),
    magnitude: plan.request.magnitude,
    p_min: String(pMin),
    p_max: String(pMax),
    points: String(points),
  });
  return `/api/theory/power?${query.toString()}`;
}

/**
 * @typedef {object} GainPoints One trained model's gains, ready for a log axis.
 * @property {number[]} p the feature probabilities with a positive gain
 * @property {number[]} gain L̃ = L(x′ = 0) − L at those p, the server's `gain`
 * @property {number[]} loss the trained loss L at those p
 * @property {number} leftOff how many instances had L̃ ≤ 0 (or no gain) and are not drawn
 */

/**
 * The measured gain of every instance of a ModelResult (its `gain`, L̃ measured by the server on
 * the same inputs as its loss), keeping only the positive ones (a log axis cannot show the
 * others) and counting those left off.
 * @param {{instances: Array<{feature_probability: number, loss: number, gain?: number|null}>}} result
 * @returns {GainPoints}
 */
export function measuredGains(result) {
  /** @type {GainPoints} */
  const out = { p: [], gain: [], loss: [], leftOff: 0 };
  for (const instance of result.instances) {
    const gain = instance.gain;
    if (typeof gain === "number" && Number.isFinite(gain) && gain > 0) {
      out.p.push(instance.feature_probability);
      out.gain.push(gain);
      out.loss.push(instance.loss);
    } else {
      out.leftOff += 1;
    }
  }
  return out;
}

/**
 * The power page's URL for a PowerSweepRequest (the gallery's link): every field of the sweep,
 * C = 1.
 * @param {Record<string, any>} sweep
 * @returns {string}
 */
export function powerPageUrl(sweep) {
  /** @type {Record<string, unknown>} */
  const state = Object.fromEntries(POWER_FIELDS.map((field) => [field.name, sweep[field.name] ?? field.default]));
  state.m = (sweep.n_hidden ?? [2, 3]).join(",");
  state.n_features = sweep.n_features ?? "auto";
  return `/power.html#${serializeFields(POWER_FIELDS, state)}`;
}
