// The whole view state: one plain object, declared by PROPS and round-tripped through the URL
// hash (#n_features=5&n_hidden=2&feature_probability=0.1&...). The keys are exactly the fields of
// the API's ModelRequest, so the state *is* the request the page trains.

import {
  boundsOf as fieldBounds,
  clampFields,
  parseHashFields,
  serializeFields,
  withServerDefaults,
} from "./page.js";

/**
 * @typedef {object} State
 * @property {number} n_features n, the number of input features
 * @property {number} n_hidden m, the hidden dimension
 * @property {number} feature_probability p = 1 − S, the chance a feature is non-zero
 * @property {number} importance_decay Iᵢ = decayⁱ
 * @property {string} importance explicit importances, comma-separated ("1,1,2.5"); when it has
 *   n_features entries it replaces the decay (phase-diagram cells open with it)
 * @property {"relu"|"linear"|"power"} activation output non-linearity: ReLU(WᵀWx + b), WᵀWx + b,
 *   or (WᵀWx)ᵏ with no bias (Chowdhury & Weiner)
 * @property {1|3|5} power k of the power activation; sent only when activation is "power"
 * @property {"uniform"|"boolean"} magnitude an active feature's size: U[0, 1] or always 1 (a power
 *   model draws symmetric inputs: U[−1, 1] or ±1)
 * @property {number} steps training steps
 * @property {number} seed random seed
 * @property {number} n_restarts seeds trained at once; the best is kept
 * @property {"on"|"off"} carry view only: a changed control trains on from the current weights
 *   (`init_from: "current"`) instead of a fresh initialisation
 * @property {"max"|number} speed view only: training steps per second ("max": as fast as the
 *   device goes), the live socket's `speed` message
 * @property {string} present view only: presentation mode, the one or two figures shown screen
 *   wide ("gram-geometry", …; "" is off)
 */

/**
 * @typedef {object} Limits The server's `GET /api/limits` answer (the fields used here).
 * @property {number} max_features
 * @property {number} max_hidden
 * @property {number} max_restarts
 * @property {number} max_steps
 */

/**
 * @typedef {object} Prop One field of the state.
 * @property {keyof State} name key in the state, the URL hash and the API request
 * @property {"int"|"float"|"enum"|"list"} type how the hash value is parsed
 * @property {number|string} default value when the hash lacks it or it does not parse
 * @property {number} [min] smallest value the UI allows
 * @property {number} [max] largest value the UI allows (unless `limit` names a server limit)
 * @property {keyof Limits} [limit] the `/api/limits` field that bounds it from above
 * @property {ReadonlyArray<string|number>} [values] the allowed values of an enum (numbers for a
 *   numeric choice such as k)
 * @property {boolean} [view] a view setting kept in the URL but never sent as a request field
 */

/**
 * The speeds offered, in steps per second; "max" sends `steps_per_second: null`.
 * @type {ReadonlyArray<"max"|number>}
 */
export const SPEEDS = Object.freeze(["max", 1000, 300, 100, 30, 10, 3]);

/**
 * The presentation layouts: "" (off), or the one or two figures shown the width of the screen.
 * @type {ReadonlyArray<string>}
 */
export const PRESENTATIONS = Object.freeze([
  "",
  "gram-geometry",
  "gram",
  "geometry",
  "geometry-norms",
  "gram-norms",
  "loss",
]);

/**
 * Every field of the view state, with its type, default and bounds. The request fields' defaults
 * are the server's (its ModelRequest schema, via `useServerDefaults`); these are the same values,
 * for when the schema cannot be read. importance_decay's 1 is the API's (its null means 1).
 * @type {readonly Prop[]}
 */
export let PROPS = Object.freeze([
  { name: "n_features", type: "int", default: 5, min: 1, max: 512, limit: "max_features" },
  { name: "n_hidden", type: "int", default: 2, min: 1, max: 256, limit: "max_hidden" },
  { name: "feature_probability", type: "float", default: 0.1, min: 0.001, max: 1 },
  { name: "importance_decay", type: "float", default: 1, min: 0.5, max: 1 },
  { name: "importance", type: "list", default: "" },
  { name: "activation", type: "enum", default: "relu", values: ["relu", "linear", "power"] },
  { name: "power", type: "enum", default: 3, values: [1, 3, 5] },
  { name: "magnitude", type: "enum", default: "uniform", values: ["uniform", "boolean"] },
  { name: "steps", type: "int", default: 3000, min: 1, max: 50000, limit: "max_steps" },
  { name: "seed", type: "int", default: 0, min: 0, max: 2 ** 32 - 1 },
  { name: "n_restarts", type: "int", default: 1, min: 1, max: 16, limit: "max_restarts" },
  { name: "carry", type: "enum", default: "on", values: ["on", "off"], view: true },
  { name: "speed", type: "enum", default: "max", values: SPEEDS, view: true },
  { name: "present", type: "enum", default: "", values: PRESENTATIONS, view: true },
]);

/**
 * Limits assumed until (or unless) the server's `/api/limits` answers.
 * @type {Readonly<Limits>}
 */
export const DEFAULT_LIMITS = Object.freeze({
  max_features: 512,
  max_hidden: 256,
  max_restarts: 16,
  max_steps: 50000,
});

/**
 * A fresh state holding every default.
 * @returns {State}
 */
export function defaultState() {
  return /** @type {State} */ (Object.fromEntries(PROPS.map((p) => [p.name, p.default])));
}

/**
 * Take the request fields' defaults from the server's ModelRequest schema (the one source of
 * defaults for the API, the README and this page); fields it gives none for keep theirs.
 * @param {Record<string, unknown>|undefined} schemaDefaults
 * @returns {void}
 */
export function useServerDefaults(schemaDefaults) {
  PROPS = Object.freeze(/** @type {Prop[]} */ (withServerDefaults(PROPS, schemaDefaults)));
}

/**
 * The bounds of a numeric prop under the given server limits.
 * @param {Prop} prop
 * @param {Partial<Limits>} [limits]
 * @returns {{min: number, max: number}}
 */
export function boundsOf(prop, limits = DEFAULT_LIMITS) {
  return fieldBounds(prop, /** @type {Record<string, number>} */ (limits));
}

/**
 * Bring a state within bounds: unparsable values become defaults, numbers are clamped to the
 * UI's bounds and the server's limits. Returns a new object; the input is not changed.
 * @param {Partial<Record<keyof State, unknown>>} state
 * @param {Partial<Limits>} [limits]
 * @returns {State}
 */
export function clampState(state, limits = DEFAULT_LIMITS) {
  const out = clampFields(PROPS, /** @type {any} */ (state), /** @type {any} */ (limits));
  return /** @type {State} */ (/** @type {unknown} */ (out));
}

/**
 * Read a state from a URL hash ("#n_features=5&..."); missing or bad keys take their defaults.
 * `present=1` is short for the two-figure presentation.
 * @param {string} hash location.hash, with or without the leading "#"
 * @param {Partial<Limits>} [limits]
 * @returns {State}
 */
export function parseHash(hash, limits = DEFAULT_LIMITS) {
  const params = new URLSearchParams(String(hash || "").replace(/^#/, ""));
  if (params.get("present") === "1") params.set("present", "gram-geometry");
  const out = parseHashFields(PROPS, params.toString(), /** @type {any} */ (limits));
  return /** @type {State} */ (/** @type {unknown} */ (out));
}

/**
 * Write a state as a URL hash body (without "#"), every key in PROPS order, so that a copied
 * link reproduces the view even if the defaults change later.
 * @param {State} state
 * @returns {string}
 */
export function serializeState(state) {
  return serializeFields(PROPS, /** @type {any} */ (state));
}

/**
 * Replace the page's URL hash with the state, without adding a history entry or firing
 * `hashchange`.
 * @param {State} state
 * @returns {void}
 */
export function writeStateToUrl(state) {
  const hash = `#${serializeState(state)}`;
  if (window.location.hash !== hash) window.history.replaceState(null, "", hash);
}

/**
 * The state as the API's ModelRequest (the same keys, as a new plain object). `power` goes only
 * with the power activation (the server refuses it otherwise).
 * @param {State} state
 * @returns {Record<string, number|string|number[]>}
 */
export function toRequest(state) {
  /** @type {Record<string, number|string|number[]>} */
  const request = Object.fromEntries(
    PROPS.filter((p) => !p.view).map((p) => [p.name, state[p.name]]),
  );
  if (state.activation !== "power") delete request.power;
  const importance = explicitImportance(state);
  if (importance) {
    request.importance = importance;
    delete request.importance_decay;
  } else {
    delete request.importance;
  }
  return request;
}

/**
 * The explicit importances, if the state has one per feature; else null (the decay applies).
 * @param {State} state
 * @returns {number[]|null}
 */
export function explicitImportance(state) {
  if (!state.importance) return null;
  const values = state.importance.split(",").map(Number);
  return values.length === state.n_features ? values : null;
}
