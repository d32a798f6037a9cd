// The phase-diagram page's state: one plain object round-tripped through the URL hash
// (#n_features=2&grid_size=32&...). Its keys are the API's PhaseDiagramRequest fields, with the
// two ranges split into first/last ends.

/**
 * @typedef {object} PhaseState
 * @property {number} n_features 2 (2 → 1) or 3 (3 → 2)
 * @property {number} grid_size cells per axis
 * @property {number} p_first feature probability of the first column
 * @property {number} p_last feature probability of the last column
 * @property {number} r_first the extra feature's importance in the first row
 * @property {number} r_last ... in the last row
 * @property {number} n_restarts seeds per cell (0: the server's default, 3, or 8 for n = 3)
 * @property {number} steps AdamW steps
 * @property {number} seed random seed
 */

/**
 * Every field, with its default and bounds. Defaults are the API's (so the shipped diagrams in
 * models_cache/ answer the page's first request at once).
 * @type {ReadonlyArray<{name: keyof PhaseState, default: number, min: number, max: number,
 *   int?: boolean, values?: number[], limit?: string}>}
 */
export const PHASE_PROPS = Object.freeze([
  { name: "n_features", default: 2, min: 2, max: 3, int: true, values: [2, 3] },
  { name: "grid_size", default: 32, min: 2, max: 64, int: true, limit: "max_grid_size" },
  { name: "p_first", default: 1, min: 1e-4, max: 1 },
  { name: "p_last", default: 0.01, min: 1e-4, max: 1 },
  { name: "r_first", default: 0.1, min: 1e-3, max: 1e3 },
  { name: "r_last", default: 10, min: 1e-3, max: 1e3 },
  { name: "n_restarts", default: 0, min: 0, max: 16, int: true, limit: "max_restarts" },
  { name: "steps", default: 1000, min: 1, max: 50000, int: true, limit: "max_steps" },
  { name: "seed", default: 0, min: 0, max: 2 ** 32 - 1, int: true },
]);

/**
 * Clamp and complete a state: bad values take defaults, numbers their bounds and server limits.
 * @param {Record<string, unknown>} raw
 * @param {Record<string, number>} [limits] `GET /api/limits`
 * @returns {PhaseState}
 */
export function clampPhaseState(raw, limits = {}) {
  /** @type {Record<string, number>} */
  const out = {};
  for (const prop of PHASE_PROPS) {
    let value = Number(raw[prop.name]);
    if (raw[prop.name] === undefined || raw[prop.name] === "" || !Number.isFinite(value)) {
      value = prop.default;
    }
    if (prop.int) value = Math.round(value);
    if (prop.values && !prop.values.includes(value)) value = prop.default;
    const serverMax = prop.limit && Number.isFinite(limits[prop.limit]) ? limits[prop.limit] : prop.max;
    out[prop.name] = Math.min(Math.max(value, prop.min), Math.min(prop.max, serverMax));
  }
  return /** @type {PhaseState} */ (/** @type {unknown} */ (out));
}

/**
 * Read a state from a URL hash; missing or bad keys take their defaults.
 * @param {string} hash
 * @param {Record<string, number>} [limits]
 * @returns {PhaseState}
 */
export function parsePhaseHash(hash, limits) {
  const params = new URLSearchParams(String(hash || "").replace(/^#/, ""));
  return clampPhaseState(Object.fromEntries(params.entries()), limits);
}

/**
 * The state as a URL hash body (without "#"), every key in order.
 * @param {PhaseState} state
 * @returns {string}
 */
export function serializePhaseState(state) {
  const params = new URLSearchParams();
  for (const prop of PHASE_PROPS) params.set(prop.name, String(Number(state[prop.name].toPrecision(6))));
  return params.toString();
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
  if (state.n_restarts > 0) request.n_restarts = state.n_restarts;
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
