// The text around the plots: progress, error banner, headline numbers and the model's summary.

import { formatSparsity } from "./format.js";
import { explicitImportance } from "./state.js";

/** @typedef {import("./state.js").State} State */

/**
 * @typedef {"connecting"|"queued"|"training"|"done"|"cached"|"error"|"offline"} Phase
 */

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
      const where = (item.loc ?? []).filter((part) => part !== "body").join(".");
      return where ? `${where}: ${item.msg ?? "invalid"}` : String(item.msg ?? "invalid");
    })
    .join("; ");
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
  el.replaceChildren(
    ...items.map(([name, value, title]) => {
      const item = document.createElement("span");
      item.className = "stat";
      item.title = title;
      const key = document.createElement("span");
      key.className = "stat-name";
      key.textContent = name;
      const val = document.createElement("span");
      val.className = "stat-value";
      val.dataset.stat = name;
      val.textContent = value;
      item.append(key, " ", val);
      return item;
    }),
  );
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
  const act = state.activation === "relu" ? "x′ = ReLU(WᵀWx + b)" : "x′ = WᵀWx + b (linear)";
  const restarts = state.n_restarts > 1 ? `, best of ${state.n_restarts} restarts` : "";
  return (
    `${state.n_features} features → ${state.n_hidden} hidden dimensions → ` +
    `${state.n_features} outputs, ${act}; sparsity S = ${s} (p = ${p}), ` +
    `importance ${importanceText(state)}; ` +
    `${state.steps} steps, seed ${state.seed}${restarts}.`
  );
}
