// The memorisation page's state: one plain object round-tripped through the URL hash
// (#n_features=200&t_min=3&...). It becomes a DoubleDescentRequest: the model's fields, with
// n_train_values log-spaced from t_min to t_max, unit-length inputs and the warm-up-then-cosine
// schedule of Henighan et al. (2023) as ARENA 3.0 reproduces it.

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
 * Every field, with its default and bounds. The defaults are the gallery preset's sweep
 * ("double-descent" in server/presets.json), so the page opens from the shipped cache at once.
 * @type {ReadonlyArray<{name: keyof MemorisationState, default: number, min: number, max: number,
 *   int?: boolean, limit?: string}>}
 */
export const MEMO_PROPS = Object.freeze([
  { name: "n_features", default: 100, min: 2, max: 10000, int: true, limit: "max_features" },
  { name: "n_hidden", default: 2, min: 1, max: 256, int: true, limit: "max_hidden" },
  { name: "p", default: 0.05, min: 1e-4, max: 1 },
  { name: "t_min", default: 3, min: 1, max: 10000, int: true, limit: "max_train_points" },
  { name: "t_max", default: 1000, min: 1, max: 10000, int: true, limit: "max_train_points" },
  { name: "points", default: 14, min: 1, max: 64, int: true, limit: "max_sweep_points" },
  { name: "steps", default: 6000, min: 1, max: 50000, int: true, limit: "max_steps" },
  { name: "warmup_steps", default: 600, min: 0, max: 50000, int: true },
  { name: "lr", default: 0.005, min: 1e-5, max: 1 },
  { name: "n_restarts", default: 2, min: 1, max: 16, int: true, limit: "max_restarts" },
  { name: "seed", default: 0, min: 0, max: 2 ** 32 - 1, int: true },
]);

/**
 * Clamp and complete a state: bad values take defaults, numbers their bounds and server limits;
 * t_max ≥ t_min and warmup_steps ≤ steps.
 * @param {Record<string, unknown>} raw
 * @param {Record<string, number>} [limits] `GET /api/limits`
 * @returns {MemorisationState}
 */
export function clampMemoState(raw, limits = {}) {
  /** @type {Record<string, number>} */
  const out = {};
  for (const prop of MEMO_PROPS) {
    let value = Number(raw[prop.name]);
    if (raw[prop.name] === undefined || raw[prop.name] === "" || !Number.isFinite(value)) {
      value = prop.default;
    }
    if (prop.int) value = Math.round(value);
    const serverMax = prop.limit && Number.isFinite(limits[prop.limit]) ? limits[prop.limit] : prop.max;
    out[prop.name] = Math.min(Math.max(value, prop.min), Math.min(prop.max, serverMax));
  }
  out.t_max = Math.max(out.t_max, out.t_min);
  out.warmup_steps = Math.min(out.warmup_steps, out.steps);
  return /** @type {MemorisationState} */ (/** @type {unknown} */ (out));
}

/**
 * Read a state from a URL hash; missing or bad keys take their defaults.
 * @param {string} hash
 * @param {Record<string, number>} [limits]
 * @returns {MemorisationState}
 */
export function parseMemoHash(hash, limits) {
  const params = new URLSearchParams(String(hash || "").replace(/^#/, ""));
  return clampMemoState(Object.fromEntries(params.entries()), limits);
}

/**
 * The state as a URL hash body (without "#"), every key in order.
 * @param {MemorisationState} state
 * @returns {string}
 */
export function serializeMemoState(state) {
  const params = new URLSearchParams();
  for (const prop of MEMO_PROPS) params.set(prop.name, String(Number(state[prop.name].toPrecision(6))));
  return params.toString();
}

/**
 * `count` integers log-spaced from `first` to `last` (both kept), repeats dropped: the server's
 * n_train_values (benchmarks/double_descent.py rounds tms.theory.log_spaced the same way).
 * @param {number} first
 * @param {number} last
 * @param {number} count
 * @returns {number[]}
 */
export function logSpacedIntegers(first, last, count) {
  if (count <= 1 || first === last) return [first];
  const lo = Math.log(first);
  const hi = Math.log(last);
  const values = [first];
  for (let k = 1; k < count - 1; k += 1) values.push(Math.round(Math.exp(lo + ((hi - lo) * k) / (count - 1))));
  values.push(last);
  return [...new Set(values)].sort((a, b) => a - b);
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
