// The gallery's state, kept by the shared page controller (page.js): which preset is open and
// the controls the user changed, round-tripped through the URL hash (#preset=pentagon&steps=2000).
// Only values that differ from the preset's are kept, so a bare #preset=ID opens the shipped
// (cached) result.

/**
 * The controls, in order: every one applies to each request of the preset.
 * @type {ReadonlyArray<{name: string, label: string, min: number, max: number, int: boolean,
 *   step: string, limit?: string}>}
 */
export const CONTROL_PROPS = Object.freeze([
  { name: "n_hidden", label: "m (hidden)", min: 1, max: 256, int: true, step: "1", limit: "max_hidden" },
  { name: "steps", label: "steps", min: 1, max: 50000, int: true, step: "100", limit: "max_steps" },
  { name: "lr", label: "lr", min: 1e-6, max: 1, int: false, step: "any" },
  { name: "seed", label: "seed", min: 0, max: 2 ** 32 - 1, int: true, step: "1" },
  { name: "n_restarts", label: "restarts", min: 1, max: 16, int: true, step: "1", limit: "max_restarts" },
  { name: "feature_probability", label: "p = 1 − S", min: 1e-6, max: 1, int: false, step: "any" },
]);

/** ModelRequest's defaults, for fields a preset leaves out, when the server's schema lacks them
 * (page.js's loadServerConfig reads the schema's: their one source). */
const REQUEST_DEFAULTS = Object.freeze({ n_hidden: 2, steps: 3000, lr: 1e-3, seed: 0, n_restarts: 1 });

/**
 * A request's single scalar probability (a number, or a one-entry list holding a number), else null.
 * @param {Record<string, any>} request
 * @returns {number|null}
 */
export function scalarProbability(request) {
  const fp = request.feature_probability ?? 0.1;
  if (typeof fp === "number") return fp;
  if (Array.isArray(fp) && fp.length === 1 && typeof fp[0] === "number") return fp[0];
  return null;
}

/**
 * The controls a preset offers and their values from its first request; `feature_probability` only
 * when every request has exactly one scalar probability. None for phase-diagram presets.
 * @param {{requests: Array<Record<string, any>>}} preset
 * @param {Record<string, unknown>} [requestDefaults] the server's ModelRequest defaults
 * @returns {Record<string, number>}
 */
export function presetValues(preset, requestDefaults = {}) {
  const requests = preset.requests ?? [];
  if (requests.length === 0) return {};
  const first = requests[0];
  /** @type {Record<string, number>} */
  const values = {};
  for (const prop of CONTROL_PROPS) {
    if (prop.name === "feature_probability") continue;
    values[prop.name] = Number(first[prop.name] ?? requestDefaults[prop.name] ?? REQUEST_DEFAULTS[prop.name]);
  }
  const probabilities = requests.map(scalarProbability);
  if (probabilities.every((p) => p !== null)) values.feature_probability = /** @type {number} */ (probabilities[0]);
  return values;
}

/**
 * The gallery's fields for the shared page controller (page.js): the open preset's id ("" for
 * none) and one optional field per control, unset ("") where the preset's own value stands.
 * @type {ReadonlyArray<import("../page.js").Field>}
 */
export const GALLERY_FIELDS = Object.freeze([
  { name: "preset", type: "id", default: "", optional: true },
  ...CONTROL_PROPS.map((prop) => ({
    name: prop.name,
    type: /** @type {"int"|"float"} */ (prop.int ? "int" : "float"),
    default: "",
    min: prop.min,
    max: prop.max,
    ...(prop.limit ? { limit: prop.limit } : {}),
    optional: true,
  })),
]);

/**
 * The gallery's own rule after page.js has clamped a state: only the controls the open preset
 * offers, and only where they differ from its own values (so that a bare #preset=ID opens the
 * shipped result); an unknown preset opens nothing.
 * @param {Record<string, any>} state
 * @param {ReadonlyArray<{id: string, requests: Array<Record<string, any>>}>} presets
 * @param {Record<string, unknown>} [requestDefaults] the server's ModelRequest defaults
 * @returns {Record<string, any>}
 */
export function normaliseGallery(state, presets, requestDefaults = {}) {
  const preset = presets.find((p) => p.id === state.preset) ?? null;
  const own = preset ? presetValues(preset, requestDefaults) : {};
  /** @type {Record<string, any>} */
  const out = { preset: preset ? preset.id : "" };
  for (const prop of CONTROL_PROPS) {
    const value = state[prop.name];
    const offered = prop.name in own && value !== "";
    out[prop.name] = offered && Number(value) !== Number(own[prop.name].toPrecision(6)) ? value : "";
  }
  return out;
}

/**
 * A state's overrides: the controls that are set.
 * @param {Record<string, any>} state
 * @returns {Record<string, number>}
 */
export function overridesOf(state) {
  return Object.fromEntries(CONTROL_PROPS.filter((p) => state[p.name] !== "").map((p) => [p.name, state[p.name]]));
}

/**
 * The preset's requests with the overrides applied to each.
 * @param {{requests: Array<Record<string, any>>}} preset
 * @param {Record<string, number>} overrides
 * @returns {Array<Record<string, any>>}
 */
export function effectiveRequests(preset, overrides) {
  return (preset.requests ?? []).map((request) => ({ ...request, ...overrides }));
}
