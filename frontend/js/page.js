// The shared page controller (issue 16): what every page does around its plots, in one place.
//
// - the server's limits (`GET /api/limits`) and defaults (the request schema in `/openapi.json`,
//   their one source), read once;
// - a table of fields (Field) → the page's state, clamped to those limits, round-tripped through
//   the URL hash;
// - a typed number out of range is not used: `rangeProblem` says the limit beside the field;
// - changes → a run at most every debounceMs, the latest state last (a dragged slider trains as
//   it moves); `hashchange` (a pasted link) → the same path;
// - a `seq` per run, so that a page drops answers to runs it has superseded (the live sockets
//   count theirs in LiveClient);
// - the progress line (`setProgress`, re-exported).
//
// A new page declares its fields, builds its controls, and calls `createPage`; see the explorer
// (main.js), the phase page (phase/main.js), the power page (power/main.js, which runs on
// demand) and the gallery (gallery/main.js). A page that trains one result over a live socket
// and redraws it as it comes (the phase and memorisation pages) takes `liveResultClient` and
// `startLiveRuns` as well.

import { LiveClient, fetchJson, liveUrl } from "./api.js";
import { appendButton, appendControl, byId } from "./dom.js";
import { formatDetail, loadLimits, setProgress, showError, showFinished } from "./status.js";

export { setProgress };

/**
 * @typedef {object} Field One field of a page's state.
 * @property {string} name key in the state, the URL hash and (usually) the API request
 * @property {"int"|"float"|"enum"|"list"|"id"} type how the hash value is parsed ("id": a name
 *   of lower-case letters, digits and hyphens)
 * @property {number|string} default value when the hash lacks it or it does not parse
 * @property {number} [min] smallest value the UI allows
 * @property {number} [max] largest value the UI allows (unless `limit` names a server limit)
 * @property {string} [limit] the `/api/limits` field that bounds it from above
 * @property {ReadonlyArray<string|number>} [values] the allowed values of an enum
 * @property {boolean} [view] a view setting kept in the URL but never sent in a request
 * @property {string} [schema] the request schema's property whose default this field takes
 *   (when it differs from `name`); "" for none
 * @property {boolean} [auto] the field may be "auto": the server chooses (an empty input, and
 *   the legacy 0 of old links, mean it); said so, never a hidden 0
 * @property {boolean} [optional] the field may be unset, "" (its default): left out of the URL
 *   and of clamping (the gallery's overrides: unset means the preset's own value)
 */

/**
 * @typedef {object} ServerConfig
 * @property {Record<string, number>} limits `GET /api/limits`
 * @property {Record<string, Record<string, unknown>>} defaults per request schema (ModelRequest,
 *   PhaseDiagramRequest, …), each property's default as the OpenAPI schema states it
 */

/**
 * Read the server's limits and its request schemas' defaults. Without the server's token nothing
 * will work: the banner says so and the answer is null (the page stops). Any other failure is
 * noted in the banner and the page goes on with its own defaults.
 * @param {HTMLElement} banner the page's #error
 * @returns {Promise<ServerConfig|null>}
 */
export async function loadServerConfig(banner) {
  /** @type {ServerConfig} */
  const config = { limits: {}, defaults: {} };
  const unread = {};
  const limits = await loadLimits(banner, unread);
  if (limits === null) return null;
  if (limits === unread) return config; // the banner says so; the page's own defaults stand
  config.limits = limits;
  try {
    const schemas = (await fetchJson("/openapi.json"))?.components?.schemas ?? {};
    for (const [name, schema] of Object.entries(schemas)) {
      const props = /** @type {any} */ (schema)?.properties ?? {};
      config.defaults[name] = Object.fromEntries(
        Object.entries(props)
          .filter(([, prop]) => prop && "default" in prop)
          .map(([key, prop]) => [key, prop.default]),
      );
    }
  } catch {
    // The page's own defaults stand (they match the schema's when both are current).
  }
  return config;
}

/**
 * The fields with the server's defaults where its schema gives one that fits the field (a
 * number within bounds, an allowed enum value); the rest keep the page's.
 * @param {readonly Field[]} fields
 * @param {Record<string, unknown>|undefined} schemaDefaults one schema's defaults
 * @returns {Field[]}
 */
export function withServerDefaults(fields, schemaDefaults) {
  if (!schemaDefaults) return fields.slice();
  return fields.map((field) => {
    const key = field.schema === undefined ? field.name : field.schema;
    if (!key || field.view || !(key in schemaDefaults)) return field;
    const value = parseValue(field, /** @type {any} */ (schemaDefaults[key]));
    if (value === undefined) return field;
    if (typeof value === "number" && field.min !== undefined && (value < field.min || value > (field.max ?? Infinity))) {
      return field;
    }
    return { ...field, default: value };
  });
}

/**
 * The bounds of a numeric field under the given server limits.
 * @param {Field} field
 * @param {Record<string, number>} [limits]
 * @returns {{min: number, max: number}}
 */
export function boundsOf(field, limits = {}) {
  const fromServer = field.limit && limits ? Number(limits[field.limit]) : NaN;
  const max = Number.isFinite(fromServer) ? fromServer : /** @type {number} */ (field.max);
  return { min: /** @type {number} */ (field.min), max: Math.max(max, /** @type {number} */ (field.min)) };
}

/**
 * Parse one raw value for a field; `undefined` when it does not parse.
 * @param {Field} field
 * @param {string|number|null|undefined} raw
 * @returns {number|string|undefined}
 */
export function parseValue(field, raw) {
  if (field.auto && (raw === "auto" || raw === "0" || raw === 0)) return "auto";
  if (raw === null || raw === undefined || raw === "") return undefined;
  if (field.type === "id") {
    const text = String(raw).trim();
    return /^[a-z0-9-]{1,100}$/.test(text) ? text : undefined;
  }
  if (field.type === "list") {
    const items = String(raw).split(",").map((item) => Number(item.trim()));
    if (!items.every((v) => Number.isFinite(v) && v >= 0 && v <= 1e6)) return undefined;
    return items.map((v) => Number(v.toPrecision(6))).join(",");
  }
  if (field.type === "enum") {
    const text = String(raw).trim().toLowerCase();
    return (field.values ?? []).find((value) => String(value) === text);
  }
  const num = Number(raw);
  if (!Number.isFinite(num)) return undefined;
  return field.type === "int" ? Math.round(num) : num;
}

/**
 * Bring raw values within bounds: unparsable values become defaults, numbers are clamped to the
 * UI's bounds and the server's limits (for links; typed input is refused instead, see
 * `rangeProblem`). Returns a new object.
 * @param {readonly Field[]} fields
 * @param {Record<string, unknown>} raw
 * @param {Record<string, number>} [limits]
 * @returns {Record<string, number|string>}
 */
export function clampFields(fields, raw, limits = {}) {
  /** @type {Record<string, number|string>} */
  const out = {};
  for (const field of fields) {
    let value = parseValue(field, /** @type {any} */ (raw[field.name]));
    if (value === undefined) value = field.default;
    const unset = value === "auto" || (field.optional && value === "");
    if ((field.type === "int" || field.type === "float") && !unset) {
      const { min, max } = boundsOf(field, limits);
      value = Math.min(max, Math.max(min, /** @type {number} */ (value)));
    }
    out[field.name] = value;
  }
  return out;
}

/**
 * Read a state from a URL hash ("#n_features=5&..."); missing or bad keys take their defaults.
 * @param {readonly Field[]} fields
 * @param {string} hash location.hash, with or without the leading "#"
 * @param {Record<string, number>} [limits]
 * @returns {Record<string, number|string>}
 */
export function parseHashFields(fields, hash, limits = {}) {
  const params = new URLSearchParams(String(hash || "").replace(/^#/, ""));
  /** @type {Record<string, string>} */
  const raw = {};
  for (const field of fields) {
    const value = params.get(field.name);
    if (value !== null) raw[field.name] = value;
  }
  return clampFields(fields, raw, limits);
}

/**
 * Write a state as a URL hash body (without "#"), every key in field order, so that a copied
 * link reproduces the view even if the defaults change later; an unset optional field is left
 * out.
 * @param {readonly Field[]} fields
 * @param {Record<string, unknown>} state
 * @returns {string}
 */
export function serializeFields(fields, state) {
  const params = new URLSearchParams();
  for (const field of fields) {
    const value = state[field.name];
    if (field.optional && value === "") continue;
    params.set(field.name, typeof value === "number" ? String(Number(value.toPrecision(6))) : String(value));
  }
  return params.toString();
}

/**
 * Why a typed number cannot be used for a field, or "" when it can: the limit it breaks, in
 * words ("at most 512 (the server's limit max_features); not sent"). Nothing is clamped silently.
 * @param {Field} field
 * @param {string} text the input's value
 * @param {Record<string, number>} limits
 * @returns {string}
 */
export function rangeProblem(field, text, limits) {
  if (field.auto && String(text).trim() === "") return ""; // empty: automatic
  const { min, max } = boundsOf(field, limits);
  const value = Number(text);
  if (String(text).trim() === "" || !Number.isFinite(value)) return `enter a number, ${min} – ${max}`;
  if (field.type === "int" && !Number.isInteger(value)) return `a whole number, ${min} – ${max}`;
  if (value > max) {
    const server = field.limit && limits[field.limit] !== undefined;
    return `at most ${max} (${server ? `the server's limit ${field.limit}` : "the largest allowed"}); not sent`;
  }
  if (value < min) return `at least ${min}; not sent`;
  return "";
}

/**
 * Check a number input on every committed change: out of range, show the limit beside it (in a
 * `p.limit-note` after `after`), mark it invalid and report nothing; within range, clear the note
 * and report the value.
 * @param {HTMLInputElement} input
 * @param {Field} field
 * @param {Record<string, number>} limits
 * @param {HTMLElement} after the element the note follows (the control's wrapper gets it last)
 * @param {(value: number|string) => void} onValue a number, or "auto" (an empty auto field)
 * @param {{quietMs?: number}} [options] quietMs > 0: also check while typing (the note at once)
 *   and report a usable value after that long without a keystroke
 * @returns {{clear: () => void}} clear the note (when the state is set from elsewhere)
 */
export function checkedNumber(input, field, limits, after, onValue, { quietMs = 0 } = {}) {
  const note = document.createElement("p");
  note.className = "limit-note";
  note.id = `${input.id}-limit`;
  note.setAttribute("role", "alert");
  note.hidden = true;
  after.append(note);
  const show = (/** @type {string} */ text) => {
    note.textContent = text;
    note.hidden = !text;
    if (text) input.setAttribute("aria-invalid", "true");
    else input.removeAttribute("aria-invalid");
  };
  let timer = 0;
  /** The note for the input's value; its value reported (at once, or after the quiet time). */
  const check = (/** @type {boolean} */ now) => {
    window.clearTimeout(timer);
    timer = 0;
    const problem = rangeProblem(field, input.value, limits);
    show(problem);
    if (problem) return;
    const report = () => {
      timer = 0;
      onValue(field.auto && input.value.trim() === "" ? "auto" : /** @type {number} */ (parseValue(field, input.value)));
    };
    if (now) report();
    else timer = window.setTimeout(report, quietMs);
  };
  input.addEventListener("change", () => check(true));
  if (quietMs > 0) input.addEventListener("input", () => check(false));
  return {
    clear: () => {
      window.clearTimeout(timer);
      timer = 0;
      show("");
    },
  };
}

/**
 * @typedef {object} ControlSpec One sidebar control of a field.
 * @property {string} name the field's name (its input's id)
 * @property {string} label
 * @property {string} [help] a line under it
 * @property {Array<[string, string]>} [options] a select's [value, text] pairs (enum fields)
 * @property {boolean} [text] a free text input (list fields), checked by the page's `normalise`
 */

/**
 * Build the sidebar controls of some fields in a fieldset: a select per enum with options, a
 * text input per `text` spec, a number input (bounds from the field and the server's limits,
 * "auto" as the placeholder of an auto field) with its limit note (`checkedNumber`) otherwise.
 * @param {HTMLElement} fieldset
 * @param {readonly Field[]} fields
 * @param {readonly ControlSpec[]} specs in order
 * @param {Record<string, number>} limits
 * @param {(patch: Record<string, unknown>) => void} onChange a usable value (e.g. `page.change`)
 * @param {{quietMs?: number, idPrefix?: string}} [options] quietMs: numbers report while typing
 *   too, after that quiet time (`checkedNumber`); idPrefix: before each input's id
 * @returns {(state: Record<string, any>, fallback?: Record<string, unknown>) => void} show a
 *   state in the inputs (and clear the notes), an unset optional field as its `fallback` value;
 *   the focused input keeps what is being typed in it
 */
export function fieldControls(fieldset, fields, specs, limits, onChange, { quietMs = 0, idPrefix = "" } = {}) {
  /** @type {Record<string, HTMLInputElement|HTMLSelectElement>} */
  const inputs = {};
  /** @type {Array<() => void>} */
  const clears = [];
  for (const { name, label, help = "", options, text } of specs) {
    const field = fields.find((f) => f.name === name);
    if (!field) throw new Error(`no field ${name}`);
    /** @type {HTMLInputElement|HTMLSelectElement} */
    let input;
    if (options) {
      const select = document.createElement("select");
      for (const [value, words] of options) select.add(new Option(words, value));
      select.addEventListener("change", () => onChange({ [name]: select.value }));
      input = select;
    } else {
      const box = document.createElement("input");
      if (text) {
        box.type = "text";
        box.spellcheck = false;
        box.autocomplete = "off";
        box.addEventListener("change", () => onChange({ [name]: box.value }));
      } else {
        const { min, max } = boundsOf(field, limits);
        box.type = "number";
        box.step = "any";
        box.min = String(min);
        box.max = String(max);
        if (field.auto) box.placeholder = "auto";
      }
      input = box;
    }
    input.id = `${idPrefix}${name}`;
    if (idPrefix) input.name = name;
    appendControl(fieldset, label, input, help);
    if (!options && !text) {
      // Out of range: the limit beside the field, nothing sent.
      const wrap = /** @type {HTMLElement} */ (input.closest(".control"));
      const box = /** @type {HTMLInputElement} */ (input);
      const report = (/** @type {number|string} */ value) => onChange({ [name]: value });
      clears.push(checkedNumber(box, field, limits, wrap, report, { quietMs }).clear);
    }
    inputs[name] = input;
  }
  return (state, fallback = {}) => {
    for (const [name, input] of Object.entries(inputs)) {
      if (input === document.activeElement && input instanceof HTMLInputElement) continue;
      const value = state[name] === "" && name in fallback ? fallback[name] : state[name];
      input.value = value === "auto" ? "" : String(value);
    }
    for (const clear of clears) clear();
  };
}

/**
 * @typedef {object} PageOptions
 * @property {readonly Field[]} fields
 * @property {Record<string, number>} limits
 * @property {number} [debounceMs] the least time between two runs while changes come (default
 *   100); the latest state always runs
 * @property {(state: Record<string, any>) => Record<string, any>} [normalise] the page's own
 *   rules after clamping (e.g. p_first > p_last swapped)
 * @property {(state: Record<string, any>, changed: string[]) => void} onShow show a state in the
 *   controls and text (called on every change, from a control or the URL)
 * @property {(state: Record<string, any>, seq: number) => void} onRun start the run the state
 *   asks for (a request on a socket, or REST calls tagged with seq)
 * @property {boolean} [runOnChange] false: a control's change only shows (the page runs on
 *   demand, `runNow`, e.g. a "Train" button); a pasted link still runs. Default true
 */

/**
 * @typedef {object} Page
 * @property {Record<string, any>} state the current state (replaced, never mutated)
 * @property {(patch: Record<string, unknown>) => void} change apply a control's change: clamp,
 *   write the URL, show, and run after the debounce if a request field changed
 * @property {() => void} runNow run the current state now (cancelling a pending debounce)
 * @property {() => boolean} pending whether a change waits out the debounce
 * @property {(seq: number) => boolean} isCurrent whether a run's answers are still wanted
 * @property {() => string} requestKey the current state's request fields as a string: equal
 *   keys, equal runs (view fields left out)
 */

/**
 * Create a page's controller and write its state to the URL (the run is the page's to start,
 * usually `page.runNow()` once its socket is set up).
 * @param {PageOptions} options
 * @returns {Page}
 */
export function createPage({
  fields,
  limits,
  debounceMs = 100,
  normalise = (s) => s,
  onShow,
  onRun,
  runOnChange = true,
}) {
  const clamp = (/** @type {Record<string, unknown>} */ raw) => normalise(clampFields(fields, raw, limits));
  const requestKey = (/** @type {Record<string, unknown>} */ s) =>
    serializeFields(fields.filter((f) => !f.view), s);
  const writeUrl = () => {
    const body = serializeFields(fields, page.state);
    // An empty state (every field optional and unset) is the page's bare address.
    if (window.location.hash !== (body ? `#${body}` : "")) {
      window.history.replaceState(null, "", body ? `#${body}` : `${window.location.pathname}${window.location.search}`);
    }
  };
  let timer = 0;
  let seq = 0;
  let lastRun = 0;
  const runNow = () => {
    window.clearTimeout(timer);
    timer = 0;
    lastRun = Date.now();
    seq += 1;
    onRun(page.state, seq);
  };
  /** Move to `next`; run (debounced or at once) when a request field changed and `run`. */
  const move = (/** @type {Record<string, any>} */ next, /** @type {boolean} */ debounced, run = true) => {
    const changed = fields.map((f) => f.name).filter((name) => next[name] !== page.state[name]);
    if (changed.length === 0) return;
    const rerun = run && requestKey(next) !== requestKey(page.state);
    page.state = next;
    writeUrl();
    onShow(page.state, changed);
    if (!rerun) return;
    if (!debounced) {
      runNow();
      return;
    }
    // Throttled, not only debounced: a slider dragged without a pause still trains every
    // debounceMs (from the weights shown, when the page carries on), and the last position always
    // runs.
    if (timer) return; // the pending run will take the latest state
    const wait = Math.max(0, lastRun + debounceMs - Date.now());
    timer = window.setTimeout(runNow, wait);
  };
  /** @type {Page} */
  const page = {
    state: clamp(parseHashFields(fields, window.location.hash, limits)),
    change: (patch) => move(clamp({ ...page.state, ...patch }), true, runOnChange),
    requestKey: () => requestKey(page.state),
    runNow,
    pending: () => timer !== 0,
    isCurrent: (n) => n === seq,
  };
  writeUrl();
  // A link edited by hand (or pasted) while the page is open: clamped, shown, run.
  window.addEventListener("hashchange", () => {
    const next = clamp(parseHashFields(fields, window.location.hash, limits));
    move(next, true);
    writeUrl(); // show the clamped form
  });
  return page;
}

/**
 * A counter for answers that come back out of order outside a page's runs (a preview fetched as
 * the controls change): take `next()` before asking, and use the answer only if `isCurrent`.
 * @returns {{next: () => number, isCurrent: (seq: number) => boolean}}
 */
export function latestOnly() {
  let seq = 0;
  return { next: () => ++seq, isCurrent: (n) => n === seq };
}

/**
 * A sidebar group of controls: a fieldset with a legend and `fieldControls` in it, appended to
 * `container`.
 * @param {HTMLElement} container
 * @param {string} legend
 * @param {readonly Field[]} fields
 * @param {readonly ControlSpec[]} specs
 * @param {Record<string, number>} limits
 * @param {(patch: Record<string, unknown>) => void} onChange
 * @returns {(state: Record<string, any>, fallback?: Record<string, unknown>) => void} as
 *   `fieldControls`'s
 */
export function controlGroup(container, legend, fields, specs, limits, onChange) {
  const fieldset = document.createElement("fieldset");
  fieldset.className = "group";
  const title = document.createElement("legend");
  title.textContent = legend;
  fieldset.append(title);
  const show = fieldControls(fieldset, fields, specs, limits, onChange);
  container.append(fieldset);
  return show;
}

/**
 * Run a page's `main`; if it fails, say so in the page's #error banner (and rethrow, for the
 * console).
 * @param {() => Promise<void>} main
 * @param {string} [what] the page, in the message
 * @returns {void}
 */
export function startPage(main, what = "The page") {
  main().catch((err) => {
    const banner = document.getElementById("error");
    if (banner) showError(banner, `${what} failed to start: ${err instanceof Error ? err.message : String(err)}`);
    throw err;
  });
}

/**
 * @typedef {object} LayoutElements The elements of the shared page layout (a sidebar, the error
 *   banner, the status section and the description line) that a page's script fills.
 * @property {HTMLElement} controls #controls, the sidebar
 * @property {HTMLElement} progress #progress
 * @property {HTMLElement} error #error, the banner
 * @property {HTMLElement} headline #headline, the numbers beside the progress
 * @property {HTMLElement} description #description, one line about what the state trains
 */

/**
 * Look up the shared layout's elements (the explorer, phase, memorisation and power pages have
 * them all); a page adds its own with `byId`.
 * @returns {LayoutElements}
 * @throws {Error} when the page lacks one
 */
export function layoutElements() {
  return {
    controls: byId("controls"),
    progress: byId("progress"),
    error: byId("error"),
    headline: byId("headline"),
    description: byId("description"),
  };
}

/**
 * @typedef {object} LiveResultHandlers
 * @property {string} snapshotKey the snapshot message's field that holds the result so far
 *   ("diagram", "sweep")
 * @property {string} noun the request, in the banner's "The server refused this …"
 * @property {(result: any, final: boolean) => void} onResult a snapshot's result so far
 *   (final false) or the finished one (final true), after the progress shows it: keep it, draw
 * @property {(result: any) => string} [finishedWhat] words after "N steps" in the finished
 *   progress line (`showFinished`'s `what`)
 */

/**
 * The live socket of a page that trains one result and redraws it as it comes: a snapshot or
 * the result clears the banner, moves the progress and goes to `onResult`; a refusal goes to the
 * banner; a closed socket shows "offline" (it reconnects by itself). Not connected yet.
 * @param {string} path the live endpoint, e.g. "/api/phase-diagrams/live"
 * @param {{progress: HTMLElement, error: HTMLElement}} dom
 * @param {LiveResultHandlers} handlers
 * @returns {LiveClient}
 */
export function liveResultClient(path, { progress, error }, { snapshotKey, noun, onResult, finishedWhat }) {
  const onMessage = (/** @type {any} */ message) => {
    if (message.type === "snapshot") {
      showError(error, "");
      setProgress(progress, "training", { step: message.step, steps: message.steps });
      onResult(message[snapshotKey], false);
    } else if (message.type === "done") {
      showError(error, "");
      showFinished(progress, message.result, finishedWhat ? finishedWhat(message.result) : "");
      onResult(message.result, true);
    } else if (message.type === "error") {
      showError(error, `The server refused this ${noun}: ${formatDetail(message.detail)}`);
      setProgress(progress, "error", { text: "error" });
    }
  };
  return new LiveClient(
    {
      onMessage,
      onStatus: (status) => {
        if (status === "closed") setProgress(progress, "offline", { text: "offline" });
      },
    },
    liveUrl(path),
  );
}

/**
 * @typedef {object} LiveRunsOptions
 * @property {LiveClient} client the page's live socket (`liveResultClient`), connected here
 * @property {{controls: HTMLElement, progress: HTMLElement}} dom
 * @property {string} legend the sidebar group's legend
 * @property {readonly Field[]} fields
 * @property {readonly ControlSpec[]} specs the sidebar's controls, in order
 * @property {Record<string, number>} limits
 * @property {number} debounceMs
 * @property {(state: Record<string, any>) => Record<string, any>} [normalise] as createPage's
 * @property {(state: Record<string, any>) => object} toRequest the state's live request
 * @property {(state: Record<string, any>) => void} onState a new state, shown in the controls
 *   already (and the first one): keep it, describe it
 * @property {() => void} [onSend] just before a request goes out (e.g. forget a selection)
 */

/**
 * The sidebar and the runs of a page that trains one result over a live socket (the phase and
 * memorisation pages): the page controller (URL hash ⇄ state, limits, debounce), a control group
 * and a "Recompute (train live)" button (#recompute: the same request with `retrain`), then
 * connect and send the state's request.
 * @param {LiveRunsOptions} options
 * @returns {Page}
 */
export function startLiveRuns({
  client,
  dom,
  legend,
  fields,
  specs,
  limits,
  debounceMs,
  normalise,
  toRequest,
  onState,
  onSend,
}) {
  /** Send the state's request (or, retrain, train it afresh although it is cached). */
  const send = (/** @type {boolean} */ retrain) => {
    const request = toRequest(page.state);
    onSend?.();
    client.send(retrain ? { ...request, retrain: true } : request);
    setProgress(dom.progress, "queued", { steps: page.state.steps, text: "starting…" });
  };
  const page = createPage({
    fields,
    limits,
    debounceMs,
    normalise,
    onShow: (next) => {
      showState(next);
      onState(next);
    },
    onRun: () => send(false),
  });
  const showState = controlGroup(dom.controls, legend, fields, specs, limits, (patch) => page.change(patch));
  appendButton(dom.controls, { id: "recompute", className: "reset", text: "Recompute (train live)", onClick: () => send(true) });
  showState(page.state);
  onState(page.state);

  setProgress(dom.progress, "connecting", { text: "connecting…" });
  client.connect();
  page.runNow();
  return page;
}
