// The power-activation page, on the shared page controller (page.js): URL hash ⇄ state, the
// server's limits and defaults, the controls and the progress. The server plans every sweep
// (POST /api/power-sweeps/plan: the swept p, each m's n and model request), so the default
// sweep opens from the shipped cache. "Train" (the page's opening, or a pasted link) posts each
// m's model request to /api/models and fetches GET /api/theory/power per m; the results → one
// log–log plot of the gain L̃ against p. The shapes' constant C only redraws.

import { ApiError, fetchJson } from "../api.js";
import { appendButton, byId } from "../dom.js";
import { fromLogSlider, toLogSlider } from "../maths.js";
import { M_COLOURS, renderPowerPlot } from "../plots/power.js";
import {
  controlGroup,
  createPage,
  latestOnly,
  layoutElements,
  loadServerConfig,
  startPage,
  withServerDefaults,
} from "../page.js";
import { failureText, setProgress, showError } from "../status.js";
import {
  MAX_M_VALUES,
  POWER_FIELDS,
  SHAPE_C_LOG_RANGE,
  measuredGains,
  normalisePower,
  theoryPath,
  toSweepRequest,
} from "./state.js";

/** @typedef {import("./state.js").PowerState} PowerState */
/** @typedef {import("../plots/power.js").PowerSeries} PowerSeries */

/** Superscript digits, for mᵏ written with the chosen k. */
const SUPERSCRIPT = Object.freeze({ 1: "¹", 3: "³", 5: "⁵" });

/** The plan endpoint: the server turns a sweep into its model requests. */
const PLAN = "/api/power-sweeps/plan";

/**
 * The sidebar's sweep settings, in order (page.js's ControlSpec).
 * @type {ReadonlyArray<import("../page.js").ControlSpec>}
 */
const CONTROLS = [
  {
    name: "k",
    label: "Power k",
    help: "x′ = (WᵀWx)ᵏ; k = 1 is the linear model.",
    options: [["1", "1"], ["3", "3"], ["5", "5"]],
  },
  { name: "m", label: "Hidden dimensions m", help: `Comma-separated, at most ${MAX_M_VALUES}; one training each.`, text: true },
  {
    name: "magnitude",
    label: "Values ξ",
    help: "Symmetric: ξ ~ U[−1, 1], or ±1 with a fair sign.",
    options: [["uniform", "U[−1, 1]"], ["boolean", "±1"]],
  },
  {
    name: "n_features",
    label: "Features n",
    help: "Empty: automatic, n = mᵏ + 1 per m (the theorem needs n > mᵏ), at most the server's max_features.",
  },
  { name: "p_min", label: "p, smallest", help: "Feature probability: P(bᵢ = 1)." },
  { name: "p_max", label: "p, largest" },
  { name: "points", label: "Values of p", help: "Log-spaced; each is one instance of every training." },
  { name: "steps", label: "Steps", help: "AdamW, lr 0.001." },
  { name: "batch_size", label: "Batch size" },
  { name: "seed", label: "Seed" },
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
 * The "Drawing" group: the shapes' constant C on a log slider (a view field: it redraws only).
 * @param {HTMLElement} container
 * @param {(c: number) => void} onConstant
 * @returns {(c: number) => void} show a C
 */
function buildConstant(container, onConstant) {
  const drawing = document.createElement("fieldset");
  drawing.className = "group";
  drawing.innerHTML =
    '<legend>Drawing</legend><div class="control"><div class="control-head">' +
    '<label for="shape_c">Shapes\' constant C</label><output id="shape_c_value" for="shape_c"></output></div>' +
    '<input type="range" id="shape_c" aria-label="the shapes\' constant C, log scale">' +
    '<div class="scale"><span>10⁻³</span><span>1</span><span>10³</span></div>' +
    '<p class="help">The theorem gives p·mᵏ and m·p^(1/k) only up to unknown constants: slide C to lay ' +
    "the shapes beside the points. It redraws; it does not train.</p></div>";
  container.append(drawing);
  const slider = /** @type {HTMLInputElement} */ (drawing.querySelector("#shape_c"));
  const output = /** @type {HTMLOutputElement} */ (drawing.querySelector("#shape_c_value"));
  slider.min = String(SHAPE_C_LOG_RANGE.min);
  slider.max = String(SHAPE_C_LOG_RANGE.max);
  slider.step = String(SHAPE_C_LOG_RANGE.step);
  slider.addEventListener("input", () => {
    const c = fromLogSlider(slider.value);
    output.value = `C = ${fmt(c)}`;
    onConstant(c);
  });
  return (c) => {
    slider.value = String(toLogSlider(c));
    output.value = `C = ${fmt(c)}`;
  };
}

/**
 * One line saying what a plan trains.
 * @param {any} plan the server's PowerSweepPlan
 * @returns {string}
 */
function describePlan(plan) {
  const { request, runs } = plan;
  const ps = plan.feature_probability;
  const xi = request.magnitude === "uniform" ? "ξ ~ U[−1, 1]" : "ξ = ±1";
  const capped = runs.some((run) => run.capped);
  const nText =
    request.n_features !== null
      ? `n = ${request.n_features}`
      : `n = ${runs.map((run) => run.n_features).join(", ")} (mᵏ + 1${capped ? ", at most max_features" : ""})`;
  const pText =
    ps.length > 1
      ? `${ps.length} values of p from ${fmt(ps[0])} to ${fmt(ps[ps.length - 1])} (log-spaced)`
      : `p = ${fmt(ps[0])}`;
  return (
    `x′ = (WᵀWx)${SUPERSCRIPT[request.k]}, tied weights, no bias; ${xi}; m = ${request.n_hidden.join(", ")}; ` +
    `${nText}; ${pText}; ${request.steps} steps, batch ${request.batch_size}, AdamW lr 0.001, ` +
    `seed ${request.seed}.`
  );
}

/**
 * Show where every m of a plan stands against the theorem's n > mᵏ (the server's verdicts).
 * @param {HTMLElement} el #regime
 * @param {any} plan
 * @returns {void}
 */
function showRegime(el, plan) {
  const k = SUPERSCRIPT[plan.request.k];
  el.replaceChildren(
    ...plan.runs.map((run, i) => {
      const item = document.createElement("li");
      item.dataset.m = String(run.n_hidden);
      item.dataset.inRegime = String(run.in_regime);
      const swatch = document.createElement("i");
      swatch.style.background = M_COLOURS[i % M_COLOURS.length];
      let text = `m = ${run.n_hidden}: n = ${run.n_features}`;
      if (run.capped) text += `, capped at the server's max_features (mᵏ + 1 = ${run.threshold + 1})`;
      else if (run.auto) text += ` = m${k} + 1`;
      item.append(swatch, text);
      const verdict = document.createElement("span");
      if (run.in_regime) {
        verdict.textContent = ` > m${k} = ${run.threshold}: the theorem's n > mᵏ holds.`;
      } else {
        verdict.className = "outside";
        verdict.textContent = ` ≤ m${k} = ${run.threshold}. n ≤ mᵏ: outside the theorem's regime.`;
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
    ...layoutElements(),
    stale: byId("stale"),
    regime: byId("regime"),
    plot: byId("gain-plot"),
    leftOff: byId("left-off"),
  };
  const config = await loadServerConfig(dom.error);
  if (config === null) {
    setProgress(dom.progress, "error", { text: "token needed" });
    return; // every request would be refused
  }
  const { limits } = config;
  const fields = withServerDefaults(POWER_FIELDS, config.defaults.PowerSweepRequest);

  /** @type {PowerSeries[]} what the plot shows: the latest "Train" */
  let series = [];
  /** The k of the latest "Train". */
  let shownK = 3;
  /** page.requestKey() of the latest "Train", to say when the settings have moved on. */
  let trainedKey = "";
  let frame = 0;

  const draw = () => {
    frame = 0;
    renderPowerPlot(dom.plot, series, { k: shownK, c: page.state.shape_c });
    const trained = series.filter((s) => s.gains);
    const drawn = trained.reduce((sum, s) => sum + (s.gains?.p.length ?? 0), 0);
    const total = trained.reduce((sum, s) => sum + (s.gains?.p.length ?? 0) + (s.gains?.leftOff ?? 0), 0);
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
    dom.stale.hidden = !trainedKey || page.requestKey() === trainedKey;
  };
  const showPlan = (/** @type {any} */ plan) => {
    dom.description.textContent = describePlan(plan);
    showRegime(dom.regime, plan);
  };

  // What the controls would train, asked of the server as they change (latest answer wins).
  const preview = latestOnly();
  let previewedKey = "";
  const refreshPlan = () => {
    if (page.requestKey() === previewedKey) return;
    previewedKey = page.requestKey();
    const seq = preview.next();
    fetchJson(PLAN, { method: "POST", body: JSON.stringify(toSweepRequest(/** @type {any} */ (page.state))) })
      .then((plan) => {
        if (preview.isCurrent(seq)) showPlan(plan);
      })
      .catch((err) => {
        if (preview.isCurrent(seq)) showError(dom.error, `The server refused this sweep: ${errorText(err)}`);
      });
  };

  /** @type {AbortController|null} */
  let controller = null;
  /**
   * Train (or load) the state's sweep: its plan, then each m's model and theory lines.
   * @param {PowerState} sweep
   * @param {number} seq page.js's run number
   */
  const train = async (sweep, seq) => {
    controller?.abort();
    const ctrl = new AbortController();
    controller = ctrl;
    trainedKey = page.requestKey();
    showStale();
    showError(dom.error, "");
    setProgress(dom.progress, "queued", { text: "planning…" });
    const live = () => page.isCurrent(seq) && !ctrl.signal.aborted;
    /**
     * @param {unknown} err
     * @param {string} what
     */
    const fail = (err, what) => {
      if (!live() || isAbort(err)) return; // superseded, or an earlier failure
      ctrl.abort(); // the other trainings of this sweep are cancelled on the server
      showError(dom.error, `The server refused ${what}: ${errorText(err)}`);
      setProgress(dom.progress, "error", { text: "error" });
    };
    let plan;
    try {
      plan = await fetchJson(PLAN, {
        method: "POST",
        body: JSON.stringify(toSweepRequest(sweep)),
        signal: ctrl.signal,
      });
    } catch (err) {
      fail(err, "this sweep");
      return;
    }
    if (!live()) return;
    showPlan(plan);
    shownK = plan.request.k;
    series = plan.runs.map((/** @type {any} */ run, /** @type {number} */ i) => ({
      m: run.n_hidden,
      n: run.n_features,
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
    const tasks = plan.runs.map((/** @type {any} */ run, /** @type {number} */ i) => {
      const s = series[i];
      const theory = fetchJson(theoryPath(plan, run), { signal: ctrl.signal }).then((answer) => {
        if (!live()) return;
        s.theory = answer;
        scheduleDraw();
      });
      const model = fetchJson("/api/models", {
        method: "POST",
        body: JSON.stringify(run.model_request),
        signal: ctrl.signal,
      }).then((result) => {
        if (!live()) return;
        s.gains = measuredGains(result);
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
    await Promise.all(tasks);
    if (!live()) return;
    const secs = ((performance.now() - started) / 1000).toFixed(1);
    setProgress(dom.progress, cached === total ? "cached" : "done", {
      step: total,
      steps: total,
      text: `done · ${total} m in ${secs} s` + (cached ? ` (${cached === total ? "all" : cached} from the cache)` : ""),
    });
  };

  // The shared page controller: controls only show (the page trains on "Train"); the page's
  // opening and a pasted link train.
  const page = createPage({
    fields,
    limits,
    normalise: normalisePower,
    runOnChange: false,
    onShow: (state, changed) => {
      showState(state);
      showConstant(state.shape_c);
      if (changed.every((name) => name === "shape_c")) {
        scheduleDraw();
        return;
      }
      refreshPlan();
      showStale();
    },
    onRun: (state, seq) => {
      train(/** @type {PowerState} */ (state), seq);
    },
  });

  const showState = controlGroup(dom.controls, "Sweep", fields, CONTROLS, limits, (patch) => page.change(patch));
  appendButton(dom.controls, { id: "train", className: "train", text: "Train", onClick: () => page.runNow() });
  const showConstant = buildConstant(dom.controls, (c) => page.change({ shape_c: c }));
  showState(page.state);
  showConstant(page.state.shape_c);
  previewedKey = page.requestKey(); // the run below plans it
  page.runNow();
}

startPage(main);
