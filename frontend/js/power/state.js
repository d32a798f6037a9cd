// The power-activation page's state: one plain object round-tripped through the URL hash
// (#k=3&m=2,3&magnitude=uniform&p_min=0.001&...). It describes a sweep: one ModelRequest per m,
// each with one instance per p, plus the drawing's adjustable constant C (which never retrains).

import { logSpaced, powerRuleFeatures, powerThreshold } from "../maths.js";

/**
 * @typedef {object} PowerState
 * @property {1|3|5} k the power of the activation x′ = (WᵀWx)ᵏ
 * @property {number[]} m the hidden dimensions, one training each (ascending, distinct)
 * @property {"uniform"|"boolean"} magnitude ξ ~ U[−1, 1], or ±1 with a fair sign
 * @property {number} n_features n for every m, or 0: automatic, n = mᵏ + 1 capped at max_features
 * @property {number} p_min the sweep's smallest feature probability
 * @property {number} p_max ... and largest
 * @property {number} points how many p values, log-spaced from p_min to p_max
 * @property {number} steps AdamW steps
 * @property {number} batch_size samples per step
 * @property {number} seed random seed
 * @property {number} shape_c the constant C the theorem's scaling shapes are drawn with
 */

/**
 * @typedef {object} NumberProp
 * @property {keyof PowerState} name
 * @property {number} default
 * @property {number} min
 * @property {number} max
 * @property {boolean} [int]
 * @property {number[]} [values] the allowed values (anything else takes the default)
 * @property {string} [limit] the `GET /api/limits` field that bounds it from above
 */

/** The training's learning rate (the API's default, and the paper notebook's). */
export const LR = 1e-3;

/** At most this many m per sweep: one training each. */
export const MAX_M_VALUES = 6;

/** The default list of m. */
export const DEFAULT_M = Object.freeze([2, 3]);

/** The allowed magnitudes, the default first. */
export const MAGNITUDES = Object.freeze(/** @type {const} */ (["uniform", "boolean"]));

/**
 * Every numeric field, with its default and bounds. `n_features` 0 means automatic.
 * @type {ReadonlyArray<NumberProp>}
 */
export const POWER_PROPS = Object.freeze([
  { name: "k", default: 3, min: 1, max: 5, int: true, values: [1, 3, 5] },
  { name: "n_features", default: 0, min: 0, max: 512, int: true, limit: "max_features" },
  { name: "p_min", default: 1e-3, min: 1e-6, max: 1 },
  { name: "p_max", default: 0.5, min: 1e-6, max: 1 },
  { name: "points", default: 8, min: 1, max: 64, int: true, limit: "max_instances" },
  { name: "steps", default: 4000, min: 1, max: 50000, int: true, limit: "max_steps" },
  { name: "batch_size", default: 1024, min: 1, max: 8192, int: true, limit: "max_batch_size" },
  { name: "seed", default: 0, min: 0, max: 2 ** 32 - 1, int: true },
  { name: "shape_c", default: 1, min: 1e-3, max: 1e3 },
]);

/** The constant C's slider works on log₁₀ C within these bounds. */
export const SHAPE_C_LOG_RANGE = Object.freeze({ min: -3, max: 3, step: 0.05 });

/**
 * Read a list of m from text ("2, 3,5"): positive integers, distinct, ascending, at most
 * {@link MAX_M_VALUES}. Values beyond the server's max_hidden are kept: the server refuses them
 * with a message naming its limit, which the page shows. Nothing usable gives the default.
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
  return distinct.length ? distinct : [...DEFAULT_M];
}

/**
 * Clamp and complete a state: bad values take defaults, numbers their bounds and server limits;
 * a reversed p range is put the right way round.
 * @param {Record<string, unknown>} raw
 * @param {Record<string, number>} [limits] `GET /api/limits`
 * @returns {PowerState}
 */
export function clampPowerState(raw, limits = {}) {
  /** @type {Record<string, unknown>} */
  const out = {};
  for (const prop of POWER_PROPS) {
    const given = raw[prop.name];
    let value = given === "auto" ? 0 : Number(given);
    if (given === undefined || given === null || given === "" || !Number.isFinite(value)) {
      value = prop.default;
    }
    if (prop.int) value = Math.round(value);
    if (prop.values && !prop.values.includes(value)) value = prop.default;
    const serverMax =
      prop.limit && Number.isFinite(limits[prop.limit]) ? limits[prop.limit] : prop.max;
    out[prop.name] = Math.min(Math.max(value, prop.min), Math.min(prop.max, serverMax));
  }
  if (/** @type {number} */ (out.p_min) > /** @type {number} */ (out.p_max)) {
    [out.p_min, out.p_max] = [out.p_max, out.p_min];
  }
  out.m = Array.isArray(raw.m) ? parseMList(raw.m.join(",")) : parseMList(raw.m);
  const magnitude = /** @type {any} */ (raw.magnitude);
  out.magnitude = MAGNITUDES.includes(magnitude) ? magnitude : MAGNITUDES[0];
  return /** @type {PowerState} */ (/** @type {unknown} */ (out));
}

/**
 * Read a state from a URL hash; missing or bad keys take their defaults.
 * @param {string} hash
 * @param {Record<string, number>} [limits]
 * @returns {PowerState}
 */
export function parsePowerHash(hash, limits) {
  const params = new URLSearchParams(String(hash || "").replace(/^#/, ""));
  return clampPowerState(Object.fromEntries(params.entries()), limits);
}

/**
 * A number as the hash writes it: six significant digits, no trailing zeros.
 * @param {number} value
 * @returns {string}
 */
function short(value) {
  return String(Number(value.toPrecision(6)));
}

/**
 * The state as a URL hash body (without "#"), every key in order. n_features 0 is "auto".
 * @param {PowerState} state
 * @returns {string}
 */
export function serializePowerState(state) {
  const params = new URLSearchParams();
  params.set("k", String(state.k));
  params.set("m", state.m.join(","));
  params.set("magnitude", state.magnitude);
  params.set("n_features", state.n_features > 0 ? String(state.n_features) : "auto");
  for (const name of ["p_min", "p_max", "points", "steps", "batch_size", "seed", "shape_c"]) {
    params.set(name, short(/** @type {number} */ (state[name])));
  }
  return params.toString().replace(/%2C/g, ","); // commas are fine in a hash, and readable
}

/**
 * The part of a state that decides what is trained: equal keys, equal trainings. Moving C does
 * not change it.
 * @param {PowerState} state
 * @returns {string}
 */
export function trainingKey(state) {
  return serializePowerState({ ...state, shape_c: 1 });
}

/** The sweep's feature probabilities: log-spaced (maths.js, the pages' one module of maths). */
export { logSpaced };

/**
 * @typedef {object} FeatureCount How many features one m trains with, and why.
 * @property {number} m
 * @property {number} n n_features
 * @property {number} mk mᵏ (the theorem needs n > mᵏ)
 * @property {boolean} auto n was chosen automatically
 * @property {boolean} capped automatic n hit the server's max_features (so n ≤ mᵏ)
 * @property {boolean} inRegime n > mᵏ
 */

/**
 * n for one m: the state's n when set, else mᵏ + 1 capped at max_features.
 * @param {PowerState} state
 * @param {number} m
 * @param {Record<string, number>} [limits]
 * @returns {FeatureCount}
 */
export function featureCount(state, m, limits = {}) {
  const maxFeatures = Number.isFinite(limits.max_features) ? limits.max_features : 512;
  const mk = powerThreshold(m, state.k);
  const auto = !(state.n_features > 0);
  const wanted = auto ? powerRuleFeatures(m, state.k) : state.n_features;
  const n = auto ? Math.min(wanted, maxFeatures) : wanted;
  return { m, n, mk, auto, capped: auto && n < wanted, inRegime: n > mk };
}

/**
 * The ModelRequest that trains one m of the sweep: every p is one instance.
 * @param {PowerState} state
 * @param {number} m
 * @param {Record<string, number>} [limits]
 * @returns {Record<string, unknown>}
 */
export function toPowerRequest(state, m, limits) {
  return {
    n_features: featureCount(state, m, limits).n,
    n_hidden: m,
    activation: "power",
    power: state.k,
    magnitude: state.magnitude,
    feature_probability: logSpaced(state.p_min, state.p_max, state.points),
    steps: state.steps,
    batch_size: state.batch_size,
    seed: state.seed,
    lr: LR,
  };
}

/**
 * The query of `GET /api/theory/power` for one m, over the sweep's p range (a single p is
 * widened to [p/2, min(2p, 1)] so that the lines have a length).
 * @param {PowerState} state
 * @param {number} m
 * @param {Record<string, number>} [limits]
 * @param {number} [points] samples along each line
 * @returns {string} the path with its query
 */
export function theoryPath(state, m, limits, points = 100) {
  const ps = logSpaced(state.p_min, state.p_max, state.points);
  let pMin = ps[0];
  let pMax = ps[ps.length - 1];
  if (!(pMax > pMin)) {
    pMin /= 2;
    pMax = Math.min(2 * pMax, 1);
  }
  const query = new URLSearchParams({
    k: String(state.k),
    n_hidden: String(m),
    n_features: String(featureCount(state, m, limits).n),
    magnitude: state.magnitude,
    p_min: String(pMin),
    p_max: String(pMax),
    points: String(points),
  });
  return `/api/theory/power?${query.toString()}`;
}

/**
 * @typedef {object} GainPoints One trained model's gains, ready for a log axis.
 * @property {number[]} p the feature probabilities with a positive gain
 * @property {number[]} gain L̃ = L(x′ = 0) − L at those p
 * @property {number[]} loss the trained loss L at those p
 * @property {number} leftOff how many instances had L̃ ≤ 0 (or no number) and are not drawn
 */

/**
 * The empirical gain of every instance of a ModelResult: its `gain`, L̃ measured on the same inputs
 * as its loss (far less noisy at small p), or else theory_loss.zero_output − loss (entries stored
 * before `gain` existed). Keeps only the positive ones (a log axis cannot show the others) and
 * counts those left off.
 * @param {{instances: Array<{feature_probability: number, loss: number, gain?: number|null,
 *   theory_loss: Record<string, number>}>}} result
 * @returns {GainPoints}
 */
export function empiricalGains(result) {
  /** @type {GainPoints} */
  const out = { p: [], gain: [], loss: [], leftOff: 0 };
  for (const instance of result.instances) {
    const measured = instance.gain;
    const gain = typeof measured === "number"
      ? measured
      : Number(instance.theory_loss?.zero_output) - Number(instance.loss);
    if (Number.isFinite(gain) && gain > 0) {
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
 * Multiply a line by a constant (for the theorem's shapes, drawn with the adjustable C).
 * @param {ReadonlyArray<number>} values
 * @param {number} c
 * @returns {number[]}
 */
export function scaled(values, c) {
  return values.map((v) => v * c);
}
