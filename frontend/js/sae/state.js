// The SAE page's state: one plain object round-tripped through the URL hash
// (#n_features=5&n_hidden=2&...&n_latents=5&architecture=relu&...). The toy model's fields keep
// their ModelRequest names, except its steps and restarts (model_steps, model_restarts); the SAE's
// are the SAERequest's. The page does not bound the numbers: the server does, and its 422 names
// the field (shown beside it).

/**
 * @typedef {object} SaeState
 * @property {number} n_features the toy model's n
 * @property {number} n_hidden its m
 * @property {number} feature_probability p = 1 − S
 * @property {number} importance_decay Iᵢ = decayⁱ
 * @property {number} model_steps the toy model's AdamW steps
 * @property {number} model_restarts the toy model's restarts (best kept)
 * @property {number} n_latents the SAE's dictionary size
 * @property {"relu"|"topk"} architecture ReLU + L1, or TopK
 * @property {number} l1_coefficient λ (relu)
 * @property {number} k latents kept per sample (topk)
 * @property {number} steps the SAE's Adam steps
 * @property {number} resample_interval steps between resamplings of dead latents, 0 = never
 * @property {number} n_restarts SAEs trained side by side, best kept
 * @property {number} seed the SAE's seed
 */

/**
 * Every field with its type and default. The defaults are the gallery's "sae-pentagon" preset
 * (ARENA's toy SAE on the 5 → 2 pentagon), so the page's first request is answered from the
 * shipped cache at once.
 * @type {ReadonlyArray<{name: keyof SaeState, type: "int"|"float"|"enum", default: number|string,
 *   values?: string[], group: "model"|"sae", min?: number, limit?: string}>}
 */
export const SAE_PROPS = Object.freeze([
  { name: "n_features", type: "int", default: 5, group: "model", min: 1, limit: "max_features" },
  { name: "n_hidden", type: "int", default: 2, group: "model", min: 1, limit: "max_hidden" },
  { name: "feature_probability", type: "float", default: 0.05, group: "model" },
  { name: "importance_decay", type: "float", default: 1, group: "model" },
  { name: "model_steps", type: "int", default: 10000, group: "model", min: 1, limit: "max_steps" },
  { name: "model_restarts", type: "int", default: 8, group: "model", min: 1, limit: "max_restarts" },
  { name: "n_latents", type: "int", default: 5, group: "sae", min: 1, limit: "max_latents" },
  { name: "architecture", type: "enum", default: "relu", values: ["relu", "topk"], group: "sae" },
  { name: "l1_coefficient", type: "float", default: 0.2, group: "sae" },
  { name: "k", type: "int", default: 1, group: "sae", min: 1 },
  { name: "steps", type: "int", default: 20000, group: "sae", min: 1, limit: "max_steps" },
  { name: "resample_interval", type: "int", default: 2500, group: "sae", min: 0 },
  { name: "n_restarts", type: "int", default: 1, group: "sae", min: 1, limit: "max_restarts" },
  { name: "seed", type: "int", default: 0, group: "sae", min: 0 },
]);

/** The toy model's fields whose ModelRequest name differs from the state's. */
const MODEL_NAMES = Object.freeze({ model_steps: "steps", model_restarts: "n_restarts" });

/**
 * A state from raw values: every key present, numbers parsed (ints rounded), unparsable or missing
 * values and unknown choices replaced by defaults. Ranges are left to the server.
 * @param {Record<string, unknown>} raw
 * @returns {SaeState}
 */
export function cleanSaeState(raw) {
  /** @type {Record<string, number|string>} */
  const out = {};
  for (const prop of SAE_PROPS) {
    const value = raw[prop.name];
    if (prop.type === "enum") {
      const text = String(value ?? "").trim().toLowerCase();
      out[prop.name] = prop.values?.includes(text) ? text : prop.default;
      continue;
    }
    const num = value === undefined || value === null || value === "" ? NaN : Number(value);
    if (!Number.isFinite(num)) out[prop.name] = prop.default;
    else out[prop.name] = prop.type === "int" ? Math.round(num) : Number(num.toPrecision(6));
  }
  return /** @type {SaeState} */ (/** @type {unknown} */ (out));
}

/**
 * Read a state from a URL hash; missing or bad keys take their defaults.
 * @param {string} hash
 * @returns {SaeState}
 */
export function parseSaeHash(hash) {
  const params = new URLSearchParams(String(hash || "").replace(/^#/, ""));
  return cleanSaeState(Object.fromEntries(params.entries()));
}

/**
 * The state as a URL hash body (without "#"), every key in order.
 * @param {SaeState} state
 * @returns {string}
 */
export function serializeSaeState(state) {
  const params = new URLSearchParams();
  for (const prop of SAE_PROPS) params.set(prop.name, String(state[prop.name]));
  return params.toString();
}

/**
 * The state as the API's SAERequest (the toy model as a ModelRequest). The field the
 * architecture does not use is left out (the server would still check k ≤ n_latents).
 * @param {SaeState} state
 * @returns {Record<string, any>}
 */
export function toSaeRequest(state) {
  /** @type {Record<string, any>} */
  const request = {
    model: {
      n_features: state.n_features,
      n_hidden: state.n_hidden,
      feature_probability: state.feature_probability,
      importance_decay: state.importance_decay,
      steps: state.model_steps,
      n_restarts: state.model_restarts,
    },
    n_latents: state.n_latents,
    architecture: state.architecture,
    steps: state.steps,
    resample_interval: state.resample_interval,
    n_restarts: state.n_restarts,
    seed: state.seed,
  };
  if (state.architecture === "topk") request.k = state.k;
  else request.l1_coefficient = state.l1_coefficient;
  return request;
}

/**
 * The state field an error of the server's is about: its `loc` (["n_latents"], ["model",
 * "steps"], …) mapped to the state's name; null when it is about no single field.
 * @param {Array<string|number>|undefined} loc
 * @returns {keyof SaeState|null}
 */
export function fieldOfLoc(loc) {
  const parts = (loc ?? []).filter((part) => !["body", "query", "path"].includes(String(part)));
  const names = SAE_PROPS.map((p) => p.name);
  if (parts[0] === "model" && parts.length > 1) {
    const name = String(parts[1]);
    const mapped = Object.entries(MODEL_NAMES).find(([, api]) => api === name)?.[0] ?? name;
    const prop = SAE_PROPS.find((p) => p.name === mapped && p.group === "model");
    return prop ? prop.name : null;
  }
  const name = String(parts[0] ?? "");
  const prop = SAE_PROPS.find((p) => p.name === name && p.group === "sae");
  return prop && names.includes(prop.name) ? prop.name : null;
}

/**
 * The SAE page's URL for an SAERequest whose toy model is a plain ModelRequest (one feature
 * probability, importance by decay, no feature sets, the API's seed, batch and lr); null for one
 * the page cannot show.
 * @param {Record<string, any>} request
 * @returns {string|null}
 */
export function saePageUrl(request) {
  const model = request.model;
  if (!model || model.feature_sets || model.importance || model.hidden_activation) return null;
  if ((model.activation ?? "relu") !== "relu" || (model.magnitude ?? "uniform") !== "uniform") return null;
  // What the page does not set must be at the API's defaults (seed 0, batch 1024, lr 1e-3).
  const atDefault = (value, fallback) => value === undefined || value === null || value === fallback;
  if (!atDefault(model.seed, 0) || !atDefault(model.task, "reconstruct") || !atDefault(model.snapshots, 0)) return null;
  for (const fields of [model, request]) {
    if (!atDefault(fields.batch_size, 1024) || !atDefault(fields.lr, 0.001)) return null;
  }
  if (!atDefault(request.instance, 0) || request.model_id) return null;
  let p = model.feature_probability ?? 0.1;
  if (Array.isArray(p)) {
    if (p.length !== 1 || Array.isArray(p[0])) return null;
    p = p[0];
  }
  /** @type {Record<string, unknown>} */
  const raw = {
    n_features: model.n_features,
    n_hidden: model.n_hidden,
    feature_probability: p,
    importance_decay: model.importance_decay,
    model_steps: model.steps,
    model_restarts: model.n_restarts,
  };
  for (const prop of SAE_PROPS) if (prop.group === "sae") raw[prop.name] = request[prop.name];
  return `/sae.html#${serializeSaeState(cleanSaeState(raw))}`;
}
