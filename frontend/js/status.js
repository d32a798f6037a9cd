// The text around the plots: progress, error banner, headline numbers and the model's summary.

import { ApiError, TokenRequired, fetchLimits } from "./api.js";
import { formatChange, formatGap, formatNumber, formatSparsity } from "./format.js";
import { explicitImportance } from "./state.js";

/** @typedef {import("./state.js").State} State */

/**
 * @typedef {"connecting"|"queued"|"training"|"paused"|"done"|"cached"|"error"|"offline"} Phase
 */

/**
 * Show a finished result in a progress bar: "cached · trained earlier in S s on DEVICE", or
 * "done · N steps WHAT in S s on DEVICE" for one just trained.
 * @param {HTMLElement} el the progress element
 * @param {{cached: boolean, train_seconds: number, device: string, request: {steps: number}}} result
 * @param {string} [what] words after "N steps" (e.g. "× 14 training sets")
 */
export function showFinished(el, result, what = "") {
  const secs = Number(result.train_seconds).toFixed(1);
  const steps = result.request.steps;
  setProgress(el, result.cached ? "cached" : "done", {
    step: steps,
    steps,
    text: result.cached
      ? `cached · trained earlier in ${secs} s on ${result.device}`
      : `done · ${steps} steps${what ? ` ${what}` : ""} in ${secs} s on ${result.device}`,
  });
}

/**
 * Show the run's progress in #progress: its text, its bar and, for scripts and tests, the
 * `data-state`, `data-step` and `data-steps` attributes.
 * @param {HTMLElement} el #progress
 * @param {Phase} phase
 * @param {{step?: number, steps?: number, text?: string}} [info]
 * @returns {void}
 */
export function setProgress(el, phase, info = {}) {
  const { step = 0, steps = 0 } = info;
  const text = /** @type {HTMLElement} */ (el.querySelector(".progress-text"));
  const fill = /** @type {HTMLElement} */ (el.querySelector(".progress-fill"));
  let fraction = 0;
  let label = info.text ?? "";
  if (phase === "training") {
    fraction = steps > 0 ? step / steps : 0;
    label = `step ${step} / ${steps}`;
  } else if (phase === "paused") {
    fraction = steps > 0 ? step / steps : 0;
    label = `paused at step ${step} / ${steps}`;
  } else if (phase === "done" || phase === "cached") {
    fraction = 1;
  }
  el.dataset.state = phase;
  el.dataset.step = String(step);
  el.dataset.steps = String(steps);
  text.textContent = label;
  fill.style.width = `${(100 * Math.min(Math.max(fraction, 0), 1)).toFixed(1)}%`;
  el.setAttribute("aria-valuenow", String(Math.round(100 * fraction)));
}

/** Where a refused field was (pydantic's first `loc` entry): left out of the message. */
const LOCATIONS = Object.freeze(["body", "query", "path"]);

/**
 * Turn an error message's `detail` (text, or pydantic's list of {loc, msg}) into one line.
 * @param {string|Array<{loc?: Array<string|number>, msg?: string}>|undefined} detail
 * @returns {string}
 */
export function formatDetail(detail) {
  if (typeof detail === "string") return detail;
  if (!Array.isArray(detail) || detail.length === 0) return "the server refused the request";
  return detail
    .map((item) => {
      const where = (item.loc ?? []).filter((part) => !LOCATIONS.includes(String(part))).join(".");
      return where ? `${where}: ${item.msg ?? "invalid"}` : String(item.msg ?? "invalid");
    })
    .join("; ");
}

/**
 * A failed REST call in one line: the server's `detail` when it sent one, else the error's message.
 * @param {unknown} err an ApiError, TokenRequired or any other error
 * @returns {string}
 */
export function failureText(err) {
  if (err instanceof ApiError && err.detail !== null && err.detail !== undefined) {
    return formatDetail(err.detail);
  }
  return err instanceof Error ? err.message : String(err);
}

/**
 * Show `message` in the #error banner (or hide the banner when `message` is empty).
 * @param {HTMLElement} el #error
 * @param {string} message
 * @returns {void}
 */
export function showError(el, message) {
  el.textContent = message;
  el.hidden = !message;
}

/**
 * Show the headline numbers of an instance: loss, D*, ‖W‖²_F and how many features are
 * represented (‖Wᵢ‖ > 0.5).
 * @param {HTMLElement} el #headline
 * @param {{loss: number, dimensions_per_feature: number, feature_norms: number[]}} instance
 * @param {number} nHidden m, to recover ‖W‖²_F = m / D*
 * @returns {void}
 */
export function setHeadline(el, instance, nHidden) {
  const dstar = instance.dimensions_per_feature;
  const frob = dstar > 0 ? nHidden / dstar : NaN;
  const norms = instance.feature_norms;
  const represented = norms.filter((v) => v > 0.5).length;
  const items = [
    ["loss", instance.loss.toPrecision(4), "L = E Σᵢ Iᵢ (xᵢ − x′ᵢ)²"],
    ["D*", Number.isFinite(dstar) ? dstar.toFixed(3) : "–", "dimensions per feature, m / ‖W‖²_F"],
    ["‖W‖²_F", Number.isFinite(frob) ? frob.toFixed(2) : "–", "features learned, roughly"],
    ["‖Wᵢ‖ > 0.5", `${represented} / ${norms.length}`, "features represented"],
  ];
  el.replaceChildren(...items.map(([name, value, title]) => statItem(name, name, value, title)));
}

/**
 * One headline number: span.stat (its title the hover text) > span.stat-name, " ",
 * span.stat-value with `data-stat` for scripts and tests.
 * @param {string} key the value's `data-stat`
 * @param {string} name the words before it
 * @param {string} value
 * @param {string} title
 * @returns {HTMLSpanElement}
 */
export function statItem(key, name, value, title) {
  const item = document.createElement("span");
  item.className = "stat";
  item.title = title;
  const val = textSpan("stat-value", value);
  val.dataset.stat = key;
  item.append(textSpan("stat-name", name), " ", val);
  return item;
}

/**
 * A span of some class with some text.
 * @param {string} className
 * @param {string} text
 * @returns {HTMLSpanElement}
 */
function textSpan(className, text) {
  const el = document.createElement("span");
  el.className = className;
  el.textContent = text;
  return el;
}

/**
 * One line describing the model a state trains (n → m, activation, S, importance, training).
 * @param {State} state
 * @returns {string}
 */
export function describe(state) {
  const importanceText = (st) => {
    const explicit = explicitImportance(st);
    return explicit ? `I = (${explicit.join(", ")})` : `Iᵢ = ${st.importance_decay}ⁱ`;
  };
  const { p, s } = formatSparsity(state.feature_probability);
  const restarts = state.n_restarts > 1 ? `, best of ${state.n_restarts} restarts` : "";
  return (
    `${state.n_features} features → ${state.n_hidden} hidden dimensions → ` +
    `${state.n_features} outputs, ${activationText(state)}; sparsity S = ${s} (p = ${p}), ` +
    `${magnitudeText(state)}, importance ${importanceText(state)}; ` +
    `${state.steps} steps, seed ${state.seed}${restarts}.`
  );
}

/**
 * The model's output formula, e.g. "x′ = (WᵀWx)³ (power, no bias)".
 * @param {Pick<State, "activation"|"power">} state
 * @returns {string}
 */
export function activationText(state) {
  if (state.activation === "linear") return "x′ = WᵀWx + b (linear)";
  if (state.activation === "power") {
    const k = SUPERSCRIPTS[state.power] ?? `^${state.power}`;
    return `x′ = (WᵀWx)${k} (power, no bias)`;
  }
  return "x′ = ReLU(WᵀWx + b)";
}

/** Superscript digits for k = 1, 3, 5. */
const SUPERSCRIPTS = Object.freeze({ 1: "¹", 3: "³", 5: "⁵" });

/**
 * How an active feature is drawn, in words: a power model's inputs are symmetric.
 * @param {Pick<State, "activation"|"magnitude">} state
 * @returns {string}
 */
export function magnitudeText(state) {
  const symmetric = state.activation === "power";
  if (state.magnitude === "boolean") return symmetric ? "active features ±1" : "active features 1";
  return symmetric ? "active features U[−1, 1]" : "active features U[0, 1]";
}

/**
 * The note under the loss plot: for a linear model, its loss against docs/THEORY.md F3's exact optimum
 * and why training reaches it (F17); for a power model, its gain L̃ = L(x′ = 0) − L against the
 * best unsuperposed W's (F15). Hidden for ReLU models and when the numbers are missing.
 * @param {HTMLElement} el #loss-note
 * @param {{loss: number, gain?: number|null, exact_loss?: number|null,
 *   unsuperposed_gain?: number|null, theory_loss?: Record<string, number>}|null} instance
 * @param {{activation: string, power?: number|null}} model the model's activation (and k)
 * @param {boolean} final whether the loss is the trained model's (else training is still on)
 * @returns {void}
 */
export function setLossNote(el, instance, model, final) {
  const theory = instance?.theory_loss ?? {};
  const loss = instance?.loss;
  const { activation } = model;
  const which = final ? "Trained loss" : "Loss so far";
  el.dataset.activation = activation;
  el.dataset.final = String(final);
  if (activation === "linear" && Number.isFinite(loss) && Number.isFinite(theory.linear_optimum)) {
    const optimum = theory.linear_optimum;
    // The exact loss of these weights (from the data's moments) when the server sends it: no
    // sampling noise, so it never dips under the optimum.
    const exact = typeof instance?.exact_loss === "number";
    const value = exact ? /** @type {number} */ (instance.exact_loss) : /** @type {number} */ (loss);
    el.replaceChildren(
      `${which} ${formatNumber(value, 5)}${exact ? " (exact, no sampling)" : ""} vs the exact ` +
        `linear optimum ${formatNumber(optimum, 5)} (docs/THEORY.md F3): `,
      strong(formatGap(value, optimum)),
      value < optimum ? BELOW_OPTIMUM : ".",
      " For a linear autoencoder every critical point other than the top-m projection is a " +
        "saddle (Baldi & Hornik 1989; docs/THEORY.md F17), so training does not get stuck in a worse " +
        "local minimum.",
    );
    el.hidden = false;
    return;
  }
  const zero = theory.zero_output;
  if (activation === "power" && Number.isFinite(loss) && Number.isFinite(zero)) {
    // The final result measures L̃ on the same inputs as L (the server's `gain`); snapshots
    // carry L and L(x′ = 0) only, and the note shows both (no arithmetic here).
    const gain = instance?.gain;
    const measured = typeof gain === "number";
    const parts = measured
      ? [`Gain L̃ = L(x′ = 0) − L, measured on the evaluation inputs: `, strong(formatNumber(gain, 4))]
      : [
        `Gain L̃ = L(x′ = 0) − L, with L(x′ = 0) = ${formatNumber(zero, 4)} and L = `,
        strong(formatNumber(/** @type {number} */ (loss), 4)),
      ];
    parts.push(final ? "" : " (still training; L̃ is measured when it ends)", ". ");
    const unsuperposed = instance?.unsuperposed_gain;
    if (measured && typeof unsuperposed === "number") {
      parts.push(
        `The best W without superposition (WᵀW diagonal, docs/THEORY.md F15) gains ` +
          `${formatNumber(unsuperposed, 4)}; this model's gain differs by `,
        strong(formatChange(gain, unsuperposed)),
        model.power === 1
          ? ". With k = 1 no W beats it (the linear ceiling); a gain above it is sampling noise. "
          : ". ",
      );
    }
    const link = document.createElement("a");
    link.href = "/power.html";
    link.textContent = "Power activations";
    parts.push("Scaling laws and bounds: ", link, ".");
    el.replaceChildren(...parts);
    el.hidden = false;
    return;
  }
  el.replaceChildren();
  el.hidden = true;
}

/** Why a measured loss can sit under an exact optimum. */
const BELOW_OPTIMUM =
  " (a measured loss can dip under the exact optimum: it is averaged over 2¹⁶ random samples, " +
  "with a little sampling noise).";

/**
 * A <strong> element holding `text`.
 * @param {string} text
 * @returns {HTMLElement}
 */
function strong(text) {
  const el = document.createElement("strong");
  el.textContent = text;
  return el;
}

/**
 * A page's first request, the server's limits. Without the server's token nothing will work: the
 * banner says so and the answer is null (the page stops). Any other failure is noted in the banner
 * and the page goes on with its defaults (`unread`, by default an empty object).
 * @param {HTMLElement} banner the page's #error
 * @param {Record<string, number>} [unread] the answer when the limits could not be read (a
 *   caller that must tell that case apart passes an object of its own)
 * @returns {Promise<Record<string, number>|null>}
 */
export async function loadLimits(banner, unread = {}) {
  try {
    return await fetchLimits();
  } catch (err) {
    if (err instanceof TokenRequired) {
      showError(banner, err.message);
      return null;
    }
    showError(banner, `Could not read the server's limits (${err.message}); assuming defaults.`);
    return unread;
  }
}
