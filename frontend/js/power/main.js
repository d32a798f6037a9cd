// The power-activation page: URL ⇄ state ⇄ controls; "Train" (and the page's opening) sends one
// POST /api/models per m, each p one instance, and fetches GET /api/theory/power per m; the
// results → one log–log plot of the gain L̃ against p. The shapes' constant C only redraws.

import { ApiError, fetchJson } from "../api.js";
import { appendButton, appendControl, byId } from "../dom.js";
import { M_COLOURS, renderPowerPlot } from "../plots/power.js";
import { boundsOf, checkedNumber } from "../page.js";
import { failureText, loadLimits, setProgress, showError } from "../status.js";
import {
  MAX_M_VALUES,
  POWER_PROPS,
  SHAPE_C_LOG_RANGE,
  clampPowerState,
  empiricalGains,
  featureCount,
  logSpaced,
  parsePowerHash,
  serializePowerState,
  theoryPath,
  toPowerRequest,
  trainingKey,
} from "./state.js";

/** @typedef {import("./state.js").PowerState} PowerState */
/** @typedef {import("../plots/power.js").PowerSeries} PowerSeries */

/** Superscript digits, for mᵏ written with the chosen k. */
const SUPERSCRIPT = Object.freeze({ 1: "¹", 3: "³", 5: "⁵" });

/**
 * The sidebar's sweep settings, in order: [prop, label, help, kind, options].
 * @type {ReadonlyArray<[string, string, string, "select"|"text"|"number", Array<[string, string]>?]>}
 */
const CONTROLS = [
  ["k", "Power k", "x′ = (WᵀWx)ᵏ; k = 1 is the linear model.", "select", [
    ["1", "1"],
    ["3", "3"],
    ["5", "5"],
  ]],
  ["m", "Hidden dimensions m", `Comma-separated, at most ${MAX_M_VALUES}; one training each.`, "text"],
  ["magnitude", "Values ξ", "Symmetric: ξ ~ U[−1, 1], or ±1 with a fair sign.", "select", [
    ["uniform", "U[−1, 1]"],
    ["boolean", "±1"],
  ]],
  [
    "n_features",
    "Features n",
    "Empty: automatic, n = mᵏ + 1 per m (the theorem needs n > mᵏ), at most the server's max_features.",
    "number",
  ],
  ["p_min", "p, smallest", "Feature probability: P(bᵢ = 1).", "number"],
  ["p_max", "p, largest", "", "number"],
  ["points", "Values of p", "Log-spaced; each is one instance of every training.", "number"],
  ["steps", "Steps", "AdamW, lr 0.001.", "number"],
  ["batch_size", "Batch size", "", "number"],
  ["seed", "Seed", "", "number"],
];

/**
 * A number for the page's text: three significant digits.
 * @param {number} v
 * @returns {string}
 */
const fmt = (v) => String(Number(Number(v).toPrecision(3)));

/**
 * Whether an error is a fetch this page aborted itself (a newer "Train").
 * @param {unknown} err
 * @returns {boolean}
 */
const isAbort = (err) => /** @type {any} */ (err)?.name === "AbortError";

/**
 * A refused request as one line for the banner.
 * @param {unknown} err
 * @returns {string}
 */
function errorText(err) {
  return err instanceof ApiError ? `${failureText(err)} (HTTP ${err.status})` : failureText(err);
}

/**
 * A sweep setting as the shared page controller's Field (page.js), for its bounds and checks;
 * n_features may be "auto" (the power rule) rather than a hidden 0.
 * @param {string} name
 * @returns {import("../page.js").Field}
 */
function numberField(name) {
  const prop = /** @type {any} */ (POWER_PROPS.find((p) => p.name === name));
  const auto = name === "n_features";
  return {
    name,
    type: prop.int ? "int" : "float",
    default: prop.default,
    min: auto ? 1 : prop.min,
    max: prop.max,
    limit: prop.limit,
    auto,
  };
}

/**
 * Build the sidebar: the sweep's inputs, the Train button and the shapes' constant C.
 * @param {HTMLElement} container
 * @param {Record<string, number>} limits `GET /api/limits`: the number fields' bounds
 * @param {{onChange: (patch: Record<string, unknown>) => void, onTrain: () => void,
 *   onConstant: (c: number) => void}} handlers
 * @returns {(state: PowerState) => void} shows a state in the inputs
 */
function buildControls(container, limits, handlers) {
  /** @type {Record<string, HTMLInputElement|HTMLSelectElement>} */
  const inputs = {};
  /** @type {Array<() => void>} */
  const clears = [];
  const fieldset = document.createElement("fieldset");
  fieldset.className = "group";
  fieldset.innerHTML = "<legend>Sweep</legend>";
  for (const [name, label, help, kind, options] of CONTROLS) {
    /** @type {HTMLInputElement|HTMLSelectElement} */
    let input;
    if (kind === "select") {
      const select = document.createElement("select");
      for (const [value, text] of options ?? []) select.add(new Option(text, value));
      input = select;
    } else {
      const field = document.createElement("input");
      field.type = kind;
      if (kind === "number") {
        const { min, max } = boundsOf(numberField(name), limits);
        field.step = "any";
        field.min = String(min);
        field.max = String(max);
        if (name === "n_features") field.placeholder = "auto";
      } else {
        field.spellcheck = false;
        field.autocomplete = "off";
      }
      input = field;
    }
    input.id = name;
    appendControl(fieldset, label, input, help);
    if (kind === "number") {
      // Out of range: the limit beside the field, nothing sent (page.js). An empty n: automatic.
      const wrap = /** @type {HTMLElement} */ (input.closest(".control"));
      const check = checkedNumber(/** @type {HTMLInputElement} */ (input), numberField(name), limits, wrap,
        (value) => handlers.onChange({ [name]: value === "auto" ? 0 : value }));
      clears.push(check.clear);
    } else {
      input.addEventListener("change", () => handlers.onChange({ [name]: input.value }));
    }
    inputs[name] = input;
  }
  container.append(fieldset);

  appendButton(container, { id: "train", className: "train", text: "Train", onClick: handlers.onTrain });

  const drawing = document.createElement("fieldset");
  drawing.className = "group";
  drawing.innerHTML = "<legend>Drawing</legend>";
  const wrap = document.createElement("div");
  wrap.className = "control";
  const head = document.createElement("div");
  head.className = "control-head";
  const lab = document.createElement("label");
  lab.htmlFor = "shape_c";
  lab.textContent = "Shapes' constant C";
  const output = document.createElement("output");
  output.id = "shape_c_value";
  output.htmlFor.add("shape_c");
  head.append(lab, output);
  const slider = document.createElement("input");
  slider.type = "range";
  slider.id = "shape_c";
  slider.min = String(SHAPE_C_LOG_RANGE.min);
  slider.max = String(SHAPE_C_LOG_RANGE.max);
  slider.step = String(SHAPE_C_LOG_RANGE.step);
  slider.setAttribute("aria-label", "the shapes' constant C, log scale");
  const scale = document.createElement("div");
  scale.className = "scale";
  scale.innerHTML = `<span>10⁻³</span><span>1</span><span>10³</span>`;
  const help = document.createElement("p");
  help.className = "help";
  help.textContent =
    "The theorem gives p·mᵏ and m·p^(1/k) only up to unknown constants: slide C to lay the " +
    "shapes beside the points. It redraws; it does not train.";
  const showC = (c) => {
    output.value = `C = ${fmt(c)}`;
  };
  slider.addEventListener("input", () => {
    const c = Number((10 ** Number(slider.value)).toPrecision(3));
    showC(c);
    handlers.onConstant(c);
  });
  wrap.append(head, slider, scale, help);
  drawing.append(wrap);
  container.append(drawing);

  return (state) => {
    for (const [name, input] of Object.entries(inputs)) {
      const value = state[/** @type {keyof PowerState} */ (name)];
      const auto = name === "n_features" && !(Number(value) > 0);
      input.value = auto ? "" : Array.isArray(value) ? value.join(", ") : String(value);
    }
    for (const clear of clears) clear();
    slider.value = String(Math.log10(state.shape_c));
    showC(state.shape_c);
  };
}

/**
 * One line saying what a state trains.
 * @param {PowerState} state
 * @param {Record<string, number>} limits
 * @returns {string}
 */
function describeState(state, limits) {
  const ps = logSpaced(state.p_min, state.p_max, state.points);
  const xi = state.magnitude === "uniform" ? "ξ ~ U[−1, 1]" : "ξ = ±1";
  const ns = state.m.map((m) => featureCount(state, m, limits).n).join(", ");
  const capped = state.m.some((m) => featureCount(state, m, limits).capped);
  const nText =
    state.n_features > 0
      ? `n = ${state.n_features}`
      : `n = ${ns} (mᵏ + 1${capped ? ", at most max_features" : ""})`;
  const pText =
    ps.length > 1
      ? `${ps.length} values of p from ${fmt(ps[0])} to ${fmt(ps[ps.length - 1])} (log-spaced)`
      : `p = ${fmt(ps[0])}`;
  return (
    `x′ = (WᵀWx)${SUPERSCRIPT[state.k]}, tied weights, no bias; ${xi}; m = ${state.m.join(", ")}; ` +
    `${nText}; ${pText}; ${state.steps} steps, batch ${state.batch_size}, AdamW lr 0.001, ` +
    `seed ${state.seed}.`
  );
}

/**
 * Show where every m of a state stands against the theorem's n > mᵏ.
 * @param {HTMLElement} el #regime
 * @param {PowerState} state
 * @param {Record<string, number>} limits
 * @returns {void}
 */
function showRegime(el, state, limits) {
  const k = SUPERSCRIPT[state.k];
  el.replaceChildren(
    ...state.m.map((m, i) => {
      const f = featureCount(state, m, limits);
      const item = document.createElement("li");
      item.dataset.m = String(m);
      item.dataset.inRegime = String(f.inRegime);
      const swatch = document.createElement("i");
      swatch.style.background = M_COLOURS[i % M_COLOURS.length];
      let text = `m = ${m}: n = ${f.n}`;
      if (f.capped) text += `, capped at the server's max_features (mᵏ + 1 = ${f.mk + 1})`;
      else if (f.auto) text += ` = m${k} + 1`;
      item.append(swatch, text);
      const verdict = document.createElement("span");
      if (f.inRegime) {
        verdict.textContent = ` > m${k} = ${f.mk}: the theorem's n > mᵏ holds.`;
      } else {
        verdict.className = "outside";
        verdict.textContent = ` ≤ m${k} = ${f.mk}. n ≤ mᵏ: outside the theorem's regime.`;
      }
      item.append(verdict);
      return item;
    }),
  );
}

/**
 * Start the page.
 * @returns {Promise<void>}
 */
export async function main() {
  const dom = {
    controls: byId("controls"),
    progress: byId("progress"),
    error: byId("error"),
    headline: byId("headline"),
    description: byId("description"),
    stale: byId("stale"),
    regime: byId("regime"),
    plot: byId("gain-plot"),
    leftOff: byId("left-off"),
  };
  const limits = await loadLimits(dom.error);
  if (limits === null) {
    setProgress(dom.progress, "error", { text: "token needed" });
    return; // every request would be refused
  }
  let state = parsePowerHash(window.location.hash, limits);
  const writeUrl = () => {
    const hash = `#${serializePowerState(state)}`;
    if (window.location.hash !== hash) window.history.replaceState(null, "", hash);
  };
  writeUrl();

  /** @type {PowerSeries[]} what the plot shows: the latest "Train" */
  let series = [];
  /** The k of the latest "Train". */
  let shownK = state.k;
  /** trainingKey() of the latest "Train", to say when the settings have moved on. */
  let trainedKey = "";
  let frame = 0;

  const draw = () => {
    frame = 0;
    renderPowerPlot(dom.plot, series, { k: shownK, c: state.shape_c });
    const trained = series.filter((s) => s.gains);
    const drawn = trained.reduce((sum, s) => sum + (s.gains?.p.length ?? 0), 0);
    const total = trained.reduce(
      (sum, s) => sum + (s.gains?.p.length ?? 0) + (s.gains?.leftOff ?? 0),
      0,
    );
    const leftOff = trained.filter((s) => s.gains && s.gains.leftOff > 0);
    dom.leftOff.textContent = leftOff.length
      ? `Left off the log axis (L̃ ≤ 0, no better than answering 0): ` +
        leftOff.map((s) => `${s.gains?.leftOff} of m = ${s.m}`).join(", ") +
        ` (${total - drawn} of ${total} trained points).`
      : trained.length
        ? "Every trained point has L̃ > 0 and is drawn."
        : "";
    dom.leftOff.dataset.leftOff = String(total - drawn);
    dom.headline.innerHTML = trained.length
      ? `<span><span class="stat-name">points drawn</span> ` +
        `<span class="stat-value" data-stat="drawn">${drawn} / ${total}</span></span>` +
        `<span><span class="stat-name">left off (L̃ ≤ 0)</span> ` +
        `<span class="stat-value" data-stat="left-off">${total - drawn}</span></span>`
      : "";
  };
  const scheduleDraw = () => {
    if (!frame) frame = window.requestAnimationFrame(draw);
  };
  const showStale = () => {
    dom.stale.hidden = !trainedKey || trainingKey(state) === trainedKey;
  };
  const describe = () => {
    dom.description.textContent = describeState(state, limits);
    showRegime(dom.regime, state, limits);
    showStale();
  };

  /** @type {AbortController|null} */
  let controller = null;
  const train = () => {
    controller?.abort();
    const ctrl = new AbortController();
    controller = ctrl;
    const sweep = state;
    trainedKey = trainingKey(sweep);
    shownK = sweep.k;
    showStale();
    showError(dom.error, "");
    series = sweep.m.map((m, i) => ({
      m,
      n: featureCount(sweep, m, limits).n,
      colour: M_COLOURS[i % M_COLOURS.length],
      theory: null,
      gains: null,
    }));
    scheduleDraw();
    const total = series.length;
    let finished = 0;
    let cached = 0;
    const started = performance.now();
    const showProgress = () => {
      setProgress(dom.progress, "training", { step: finished, steps: total });
      const text = /** @type {HTMLElement} */ (dom.progress.querySelector(".progress-text"));
      text.textContent = `training · ${finished} / ${total} m done`;
    };
    showProgress();
    /**
     * @param {unknown} err
     * @param {string} what
     */
    const fail = (err, what) => {
      if (ctrl.signal.aborted || isAbort(err)) return; // superseded, or an earlier failure
      ctrl.abort(); // the other trainings of this sweep are cancelled on the server
      showError(dom.error, `The server refused ${what}: ${errorText(err)}`);
      setProgress(dom.progress, "error", { text: "error" });
    };
    const tasks = series.map((s) => {
      const request = toPowerRequest(sweep, s.m, limits);
      const theory = fetchJson(theoryPath(sweep, s.m, limits), { signal: ctrl.signal }).then(
        (answer) => {
          if (ctrl.signal.aborted) return;
          s.theory = answer;
          scheduleDraw();
        },
      );
      const model = fetchJson("/api/models", {
        method: "POST",
        body: JSON.stringify(request),
        signal: ctrl.signal,
      }).then((result) => {
        if (ctrl.signal.aborted) return;
        s.gains = empiricalGains(result);
        if (result.cached) cached += 1;
        finished += 1;
        showProgress();
        scheduleDraw();
      });
      return Promise.all([
        theory.catch((err) => fail(err, `the theory lines for m = ${s.m}`)),
        model.catch((err) => fail(err, `the training for m = ${s.m}`)),
      ]);
    });
    Promise.all(tasks).then(() => {
      if (ctrl.signal.aborted) return;
      const secs = ((performance.now() - started) / 1000).toFixed(1);
      setProgress(dom.progress, "done", {
        step: total,
        steps: total,
        text:
          `done · ${total} m in ${secs} s` +
          (cached ? ` (${cached === total ? "all" : cached} from the cache)` : ""),
      });
    });
  };

  const showState = buildControls(dom.controls, limits, {
    onChange: (patch) => {
      const next = clampPowerState({ ...state, ...patch }, limits);
      showState(next);
      if (serializePowerState(next) === serializePowerState(state)) return;
      state = next;
      writeUrl();
      describe();
    },
    onTrain: () => train(),
    onConstant: (c) => {
      state = clampPowerState({ ...state, shape_c: c }, limits);
      writeUrl();
      scheduleDraw();
    },
  });
  showState(state);
  describe();
  window.addEventListener("hashchange", () => {
    const next = parsePowerHash(window.location.hash, limits);
    if (serializePowerState(next) === serializePowerState(state)) return;
    const retrain = trainingKey(next) !== trainingKey(state);
    state = next;
    showState(state);
    writeUrl();
    describe();
    if (retrain) train();
    else scheduleDraw();
  });

  train();
}

main().catch((err) => {
  const banner = document.getElementById("error");
  if (banner) showError(banner, `The page failed to start: ${err.message}`);
  throw err;
});
