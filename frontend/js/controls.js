// The sidebar's controls: built from a table, bounded by the server's limits, reporting changes.

import { formatSparsity } from "./format.js";
import { probabilityToSlider, sliderToProbability } from "./maths.js";
import { checkedNumber } from "./page.js";
import { PROPS, boundsOf, clampState, defaultState } from "./state.js";

/** @typedef {import("./state.js").State} State */
/** @typedef {import("./state.js").Limits} Limits */

export { probabilityToSlider, sliderToProbability };

/**
 * @typedef {object} ControlSpec How one prop is shown.
 * @property {keyof State} name the prop (and the input's id)
 * @property {string} label
 * @property {"log"|"range"|"number"|"select"|"text"} kind
 * @property {string} [help] one line under the control
 * @property {number} [step] step of a range slider
 * @property {string[][]} [options] [value, text] pairs of a select
 * @property {(state: State) => boolean} [shownIf] the control is shown (and its value used) only
 *   when this holds
 */

/**
 * The controls, in sidebar order, grouped under headings.
 * @type {ReadonlyArray<{heading: string, controls: ControlSpec[]}>}
 */
export const GROUPS = Object.freeze([
  {
    heading: "Data",
    controls: [
      {
        name: "feature_probability",
        label: "Feature probability p",
        kind: "log",
        help: "Each feature is non-zero with probability p; sparsity S = 1 − p.",
      },
      {
        name: "importance_decay",
        label: "Importance decay",
        kind: "range",
        step: 0.01,
        help: "Feature i has importance Iᵢ = decayⁱ.",
      },
      {
        name: "importance",
        label: "Importances",
        kind: "text",
        help: "Optional: one per feature, comma-separated (e.g. 1,2.5); replaces the decay.",
      },
      { name: "n_features", label: "Features n", kind: "number" },
      {
        name: "magnitude",
        label: "Feature magnitude",
        kind: "select",
        options: [
          ["uniform", "uniform U[0, 1]"],
          ["boolean", "boolean (always 1)"],
        ],
        help:
          "How big an active feature is. Power models use symmetric inputs: U[−1, 1], or ±1 " +
          "with a fair random sign.",
      },
    ],
  },
  {
    heading: "Model",
    controls: [
      { name: "n_hidden", label: "Hidden dims m", kind: "number" },
      {
        name: "activation",
        label: "Activation",
        kind: "select",
        options: [
          ["relu", "ReLU"],
          ["linear", "linear"],
          ["power", "power"],
        ],
        help:
          "ReLU: x′ = ReLU(WᵀWx + b); linear: x′ = WᵀWx + b; power: x′ = (WᵀWx)ᵏ, " +
          "no bias (Chowdhury & Weiner).",
      },
      {
        name: "power",
        label: "Power k",
        kind: "select",
        options: [
          ["1", "k = 1"],
          ["3", "k = 3"],
          ["5", "k = 5"],
        ],
        help: "The exponent of x′ = (WᵀWx)ᵏ; odd, so the sign survives.",
        shownIf: (state) => state.activation === "power",
      },
    ],
  },
  {
    heading: "Training",
    controls: [
      { name: "steps", label: "Steps", kind: "number" },
      { name: "seed", label: "Seed", kind: "number" },
      {
        name: "n_restarts",
        label: "Restarts",
        kind: "number",
        help: "Seeds trained side by side; the lowest loss is kept.",
      },
    ],
  },
]);

/**
 * Create an element with attributes and children.
 * @param {string} tag
 * @param {Record<string, string|number|boolean>} [attrs]
 * @param {(Node|string)[]} [children]
 * @returns {HTMLElement}
 */
function h(tag, attrs = {}, children = []) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === false) continue;
    el.setAttribute(key, value === true ? "" : String(value));
  }
  el.append(...children);
  return el;
}

/**
 * @typedef {object} Controls
 * @property {(state: State) => void} set show a state in every control (reports nothing)
 * @property {(state: State) => void} reveal show exactly the controls that apply to a state
 *   (e.g. k only for the power activation); `set` does this too
 */

/**
 * Build the controls into `container`; numeric bounds come from the PROPS table and the server's
 * limits. Sliders report while dragged, number inputs when committed (Enter, blur or the arrows);
 * an out-of-range number is not used: the limit shows beside the field and nothing is reported.
 * @param {HTMLElement} container the sidebar
 * @param {Partial<Limits>} limits `GET /api/limits`
 * @param {(patch: Partial<State>) => void} onChange called with the changed fields
 * @returns {Controls}
 */
export function buildControls(container, limits, onChange) {
  const propOf = Object.fromEntries(PROPS.map((p) => [p.name, p]));
  /** @type {Record<string, (state: State) => void>} */
  const setters = {};
  /** @type {Array<[HTMLElement, (state: State) => boolean]>} */
  const conditional = [];

  for (const group of GROUPS) {
    const fieldset = h("fieldset", { class: "group" }, [h("legend", {}, [group.heading])]);
    for (const spec of group.controls) {
      const prop = propOf[spec.name];
      const wrap = h("div", { class: `control control-${spec.kind}`, id: `control-${spec.name}` });
      if (spec.shownIf) conditional.push([wrap, spec.shownIf]);
      const label = h("label", { for: spec.name }, [spec.label]);
      const head = h("div", { class: "control-head" }, [label]);
      wrap.append(head);

      if (spec.kind === "log") {
        const readout = h("output", { id: `${spec.name}_value`, for: spec.name });
        head.append(readout);
        // The input's value is log10 p; dir=rtl puts p = 1 (dense) on the left and sparser
        // features towards the right, as in the paper's figures.
        const input = /** @type {HTMLInputElement} */ (
          h("input", { id: spec.name, type: "range", min: -3, max: 0, step: 0.01, dir: "rtl" })
        );
        const scale = h("div", { class: "scale" }, [
          h("span", {}, ["dense, p = 1"]),
          h("span", {}, ["sparse, p = 0.001"]),
        ]);
        wrap.append(input, scale);
        const show = (p) => {
          const { p: pText, s } = formatSparsity(p);
          readout.textContent = `p = ${pText} · S = 1 − p = ${s}`;
        };
        input.addEventListener("input", () => {
          const p = sliderToProbability(input.value);
          show(p);
          onChange({ feature_probability: p });
        });
        setters[spec.name] = (state) => {
          input.value = String(probabilityToSlider(state.feature_probability));
          show(state.feature_probability);
        };
      } else if (spec.kind === "range") {
        const { min, max } = boundsOf(prop, limits);
        const readout = h("output", { id: `${spec.name}_value`, for: spec.name });
        head.append(readout);
        const input = /** @type {HTMLInputElement} */ (
          h("input", { id: spec.name, type: "range", min, max, step: spec.step ?? "any" })
        );
        wrap.append(input);
        input.addEventListener("input", () => {
          const value = Number(input.value);
          readout.textContent = value.toFixed(2);
          onChange({ [spec.name]: value });
        });
        setters[spec.name] = (state) => {
          input.value = String(state[spec.name]);
          readout.textContent = Number(state[spec.name]).toFixed(2);
        };
      } else if (spec.kind === "number" || spec.kind === "text") {
        if (spec.kind === "number") {
          // Out of range or not a whole number: the limit shows beside the field (page.js) and
          // nothing is reported, so nothing is sent.
          const { min, max } = boundsOf(prop, limits);
          const field = /** @type {HTMLInputElement} */ (
            h("input", { id: spec.name, type: "number", min, max, step: 1, inputmode: "numeric" })
          );
          head.append(field);
          wrap.append(h("div", { class: "bounds" }, [`${min} – ${max}`]));
          const check = checkedNumber(field, prop, /** @type {any} */ (limits), wrap, (value) =>
            onChange({ [spec.name]: value }));
          setters[spec.name] = (state) => {
            field.value = String(state[spec.name]);
            check.clear();
          };
        } else {
          const field = /** @type {HTMLInputElement} */ (
            h("input", { id: spec.name, type: "text", placeholder: "decay", spellcheck: false })
          );
          head.append(field);
          field.addEventListener("change", () => {
            const value = clampState({ ...defaultState(), [spec.name]: field.value }, limits)[
              spec.name
            ];
            // An unparsable importance list falls back to the decay; show what will be trained.
            field.value = String(value);
            onChange({ [spec.name]: value });
          });
          setters[spec.name] = (state) => {
            field.value = String(state[spec.name]);
          };
        }
      } else if (spec.kind === "select") {
        const select = /** @type {HTMLSelectElement} */ (h("select", { id: spec.name }));
        for (const [value, text] of spec.options ?? []) {
          select.append(h("option", { value }, [text]));
        }
        head.append(select);
        select.addEventListener("change", () => onChange({ [spec.name]: select.value }));
        setters[spec.name] = (state) => {
          select.value = String(state[spec.name]);
        };
      }
      if (spec.help) wrap.append(h("p", { class: "help" }, [spec.help]));
      fieldset.append(wrap);
    }
    container.append(fieldset);
  }

  const reset = h("button", { type: "button", id: "reset", class: "reset" }, ["Reset to defaults"]);
  reset.addEventListener("click", () => onChange(clampState(defaultState(), limits)));
  container.append(reset);

  const reveal = (state) => {
    for (const [wrap, shownIf] of conditional) wrap.hidden = !shownIf(state);
  };
  return {
    set(state) {
      for (const setter of Object.values(setters)) setter(state);
      reveal(state);
    },
    reveal,
  };
}
