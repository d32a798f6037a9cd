// The "Interference and its cost" section: once a model is finished, its cosine histogram and
// compounding-noise curve (GET /api/models/{id}/interference and /noise), and a what-if
// calculator of the random and worst-case figures (GET /api/interference/bounds). docs/THEORY.md
// F13–F14 (Linsefors, "Some costs of superposition").

import { ApiError, fetchJson } from "./api.js";
import { formatNumber } from "./format.js";
import { interferenceSummary, renderInterference } from "./plots/interference.js";
import { noiseSummary, renderNoise } from "./plots/noise.js";
import { failureText } from "./status.js";

/** @typedef {import("./plots/interference.js").InterferenceBounds} InterferenceBounds */
/** @typedef {import("./plots/interference.js").InterferenceStatistics} InterferenceStatistics */
/** @typedef {import("./plots/noise.js").NoiseCurve} NoiseCurve */

/**
 * @typedef {"idle"|"waiting"|"loading"|"ready"|"missing"|"error"} PanelState what the section
 *   shows, also its `data-state` (for scripts and tests)
 */

/**
 * @typedef {object} InterferenceDom
 * @property {HTMLElement} section #interference
 * @property {HTMLElement} status #interference-status
 * @property {HTMLElement} hist #interference-hist
 * @property {HTMLElement} histSummary #interference-summary
 * @property {HTMLElement} noise #noise
 * @property {HTMLElement} noiseSummary #noise-summary
 * @property {HTMLFormElement} form #bounds-form
 * @property {HTMLInputElement} calcN #calc-n
 * @property {HTMLInputElement} calcM #calc-m
 * @property {HTMLInputElement} calcL #calc-l
 * @property {HTMLElement} boundsBody #bounds-body
 * @property {HTMLElement} boundsVerdict #bounds-verdict
 * @property {HTMLElement} boundsError #bounds-error
 */

/**
 * The calculator's rows: [field of InterferenceBounds, name, formula, one-line explanation].
 * @type {ReadonlyArray<[keyof InterferenceBounds, string, string, string]>}
 */
export const BOUND_ROWS = Object.freeze([
  [
    "random_rms_overlap",
    "random RMS overlap",
    "1/√m",
    "RMS cosine of two random unit vectors in m dimensions: the typical interference.",
  ],
  [
    "random_expected_max_overlap",
    "expected max overlap",
    "∫ 1 − (1 − P(|cos| > t))ᴺ dt",
    "Largest |cos| expected among the N = n(n−1)/2 pairs of n random unit vectors (the exact " +
      "law of one cosine, pairs taken as independent).",
  ],
  [
    "jl_overlap",
    "JL overlap ε",
    "√(8 ln n / m)",
    "Linsefors's worst-case noise on a feature from one unit of another (Johnson–Lindenstrauss).",
  ],
  [
    "random_noise",
    "random noise",
    "√(l / m)",
    "RMS noise an inactive feature reads when l unit features are active, random directions.",
  ],
  ["jl_noise", "JL noise", "ε √l", "The same noise at the worst-case overlap ε."],
  [
    "typical_budget",
    "typical budget",
    "l < m",
    "Active features before random noise reaches a unit signal.",
  ],
  [
    "worst_case_budget",
    "worst-case budget",
    "l < m / (8 ln n)",
    "Active features the JL bound allows before the noise can reach the signal.",
  ],
]);

/**
 * Fill the calculator's table body with one row per figure.
 * @param {HTMLElement} body the <tbody>
 * @param {InterferenceBounds} bounds
 * @returns {void}
 */
export function renderBoundsTable(body, bounds) {
  const rows = BOUND_ROWS.map(([field, name, formula, help]) => {
    const tr = document.createElement("tr");
    tr.dataset.field = field;
    const cells = [name, formula, formatNumber(/** @type {number|null} */ (bounds[field]), 4), help];
    cells.forEach((text, i) => {
      const td = document.createElement(i === 0 ? "th" : "td");
      if (i === 0) td.setAttribute("scope", "row");
      td.textContent = text;
      tr.append(td);
    });
    return tr;
  });
  body.replaceChildren(...rows);
}

/**
 * Where l stands against the two budgets, in one sentence.
 * @param {InterferenceBounds} bounds
 * @returns {string}
 */
export function budgetVerdict(bounds) {
  const { l, typical_budget: typical, worst_case_budget: worst } = bounds;
  const within = (budget) => budget !== null && l < budget;
  const n = `${bounds.n_features} features in ${bounds.n_hidden} dimensions`;
  if (within(worst)) {
    return `${n}, ${l} active: within even the worst-case budget (${formatNumber(worst)}).`;
  }
  if (within(typical)) {
    const wc = worst === null ? "" : ` but beyond the worst-case one (${formatNumber(worst)})`;
    return `${n}, ${l} active: within the typical budget (${formatNumber(typical)})${wc}.`;
  }
  return (
    `${n}, ${l} active: beyond the typical budget (${formatNumber(typical)}); random noise ` +
    `(${formatNumber(bounds.random_noise)}) reaches a unit signal.`
  );
}


/**
 * @typedef {object} InterferencePanel
 * @property {() => void} waiting a new model is training: show that, drop answers in flight
 * @property {() => void} refused the server refused the latest request: there is nothing to measure
 * @property {(result: {id: string, request: {n_features: number, n_hidden: number}}) =>
 *   Promise<void>} show measure and draw a finished model (its instance 0)
 * @property {() => Promise<void>} calculate ask the calculator's figures for its inputs
 */

/**
 * Wire up the section. Only the latest model's answers are drawn; a model the server no longer
 * holds (evicted from its cache) gets a note instead of plots.
 * @param {InterferenceDom} dom
 * @returns {InterferencePanel}
 */
export function createInterferencePanel(dom) {
  /** Counts the models asked for; an answer for an earlier one is dropped. */
  let generation = 0;
  /** @type {{id: string, stats: InterferenceStatistics, curve: NoiseCurve}|null} */
  let last = null;
  /** The model's (n, m) the calculator last followed. */
  let followed = "";
  let calcGeneration = 0;
  /** The calculator's query asked last: a blur and a click on Compute ask only once. */
  let calcQuery = "";

  /**
   * @param {PanelState} state
   * @param {string} message shown above the plots; empty hides it
   */
  const setState = (state, message) => {
    dom.section.dataset.state = state;
    dom.status.textContent = message;
    dom.status.hidden = !message;
  };

  const draw = (stats, curve) => {
    renderInterference(dom.hist, stats);
    dom.histSummary.textContent = interferenceSummary(stats);
    renderNoise(dom.noise, curve);
    dom.noiseSummary.textContent = noiseSummary(curve);
    setState("ready", "");
  };

  const calculate = async () => {
    const query = new URLSearchParams({
      n_features: dom.calcN.value.trim(),
      n_hidden: dom.calcM.value.trim(),
      l: dom.calcL.value.trim(),
    }).toString();
    if (query === calcQuery) return; // asked already: its answer is shown or on its way
    calcQuery = query;
    calcGeneration += 1;
    const mine = calcGeneration;
    dom.form.dataset.state = "loading";
    try {
      const bounds = await fetchJson(`/api/interference/bounds?${query}`);
      if (mine !== calcGeneration) return;
      renderBoundsTable(dom.boundsBody, bounds);
      dom.boundsVerdict.textContent = budgetVerdict(bounds);
      dom.boundsError.hidden = true;
      dom.boundsError.textContent = "";
      dom.form.dataset.state = "ready";
    } catch (err) {
      if (mine !== calcGeneration) return;
      if (!(err instanceof ApiError && err.status === 422)) calcQuery = ""; // worth a retry
      dom.boundsError.textContent = `The server refused these values: ${failureText(err)}`;
      dom.boundsError.hidden = false;
      dom.boundsVerdict.textContent = "";
      dom.form.dataset.state = "error";
    }
  };

  dom.form.addEventListener("submit", (event) => {
    event.preventDefault();
    calculate();
  });
  for (const input of [dom.calcN, dom.calcM, dom.calcL]) {
    input.addEventListener("change", () => calculate());
  }

  setState("idle", "Waiting for the first model…");

  return {
    waiting() {
      generation += 1;
      setState("waiting", "Waiting for the model to finish training…");
    },

    refused() {
      generation += 1;
      setState("idle", "No model to measure: the server refused the request (see above).");
    },

    async show(result) {
      generation += 1;
      const mine = generation;
      const { n_features: n, n_hidden: m } = result.request;
      if (followed !== `${n},${m}`) {
        // The calculator starts from the model's own n and m (and keeps the user's l).
        followed = `${n},${m}`;
        dom.calcN.value = String(n);
        dom.calcM.value = String(m);
        if (!(Number(dom.calcL.value) >= 1)) dom.calcL.value = "1";
        calculate();
      }
      if (last && last.id === result.id) {
        draw(last.stats, last.curve);
        return;
      }
      setState("loading", "Measuring the model's interference…");
      const id = encodeURIComponent(result.id);
      try {
        const [stats, curve] = await Promise.all([
          fetchJson(`/api/models/${id}/interference?instance=0`),
          fetchJson(`/api/models/${id}/noise?instance=0`),
        ]);
        if (mine !== generation) return;
        last = { id: result.id, stats, curve };
        draw(stats, curve);
      } catch (err) {
        if (mine !== generation) return;
        if (err instanceof ApiError && err.status === 404) {
          setState(
            "missing",
            "The server no longer holds this model (its cache evicted it to make room), so its " +
              "interference cannot be measured. Train it again to see it.",
          );
        } else {
          setState("error", `Could not measure this model's interference: ${failureText(err)}`);
        }
      }
    },

    calculate,
  };
}
