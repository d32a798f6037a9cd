// The gallery's state: which preset is open and the controls the user changed, one plain object
// round-tripped through the URL hash (#preset=pentagon&steps=2000). Only values that differ from
// the preset's are kept, so a bare #preset=ID opens the shipped (cached) result.

/**
 * @typedef {object} GalleryState
 * @property {string|null} preset the open preset's id, or null (only the cards)
 * @property {Record<string, number>} overrides control → value, only where it differs from the
 *   preset's own value
 */

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

/** Request defaults (server/api/schemas/models.py ModelRequest) for fields a preset leaves out. */
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
 * @returns {Record<string, number>}
 */
export function presetValues(preset) {
  const requests = preset.requests ?? [];
  if (requests.length === 0) return {};
  const first = requests[0];
  /** @type {Record<string, number>} */
  const values = {};
  for (const prop of CONTROL_PROPS) {
    if (prop.name === "feature_probability") continue;
    values[prop.name] = Number(first[prop.name] ?? REQUEST_DEFAULTS[prop.name]);
  }
  const probabilities = requests.map(scalarProbability);
  if (probabilities.every((p) => p !== null)) values.feature_probability = /** @type {number} */ (probabilities[0]);
  return values;
}

/**
 * Clamp one control value to its bounds (and the server's limits); null when it is not a number.
 * @param {string} name
 * @param {unknown} raw
 * @param {Record<string, number>} [limits] `GET /api/limits`
 * @returns {number|null}
 */
export function clampControl(name, raw, limits = {}) {
  const prop = CONTROL_PROPS.find((p) => p.name === name);
  if (!prop || raw === "" || raw === null || raw === undefined) return null;
  let value = Number(raw);
  if (!Number.isFinite(value)) return null;
  if (prop.int) value = Math.round(value);
  const serverMax = prop.limit && Number.isFinite(limits[prop.limit]) ? limits[prop.limit] : prop.max;
  value = Math.min(Math.max(value, prop.min), Math.min(prop.max, serverMax));
  return Number(value.toPrecision(6));
}

/**
 * Keep only the overrides a preset offers, clamped, and different from its own values.
 * @param {Record<string, unknown>} raw
 * @param {{requests: Array<Record<string, any>>}|null} preset
 * @param {Record<string, number>} [limits]
 * @returns {Record<string, number>}
 */
export function cleanOverrides(raw, preset, limits = {}) {
  /** @type {Record<string, number>} */
  const out = {};
  if (!preset) return out;
  const own = presetValues(preset);
  for (const prop of CONTROL_PROPS) {
    if (!(prop.name in own)) continue;
    const value = clampControl(prop.name, raw[prop.name], limits);
    if (value !== null && value !== Number(own[prop.name].toPrecision(6))) out[prop.name] = value;
  }
  return out;
}

/**
 * Read the state from a URL hash; the overrides are cleaned once the preset is known.
 * @param {string} hash
 * @returns {{preset: string|null, raw: Record<string, string>}}
 */
export function parseGalleryHash(hash) {
  const params = new URLSearchParams(String(hash || "").replace(/^#/, ""));
  const raw = Object.fromEntries(params.entries());
  const preset = raw.preset && /^[a-z0-9-]+$/.test(raw.preset) ? raw.preset : null;
  delete raw.preset;
  return { preset, raw };
}

/**
 * The state as a URL hash body (without "#"): the preset, then its overrides in control order.
 * @param {GalleryState} state
 * @returns {string}
 */
export function serializeGalleryState(state) {
  if (!state.preset) return "";
  const params = new URLSearchParams({ preset: state.preset });
  for (const prop of CONTROL_PROPS) {
    if (prop.name in state.overrides) params.set(prop.name, String(state.overrides[prop.name]));
  }
  return params.toString();
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
