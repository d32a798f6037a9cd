// The controller: URL ⇄ state ⇄ controls, state → request over the live socket, messages → plots.

import { LiveClient, weightsUrl } from "./api.js";
import { buildControls } from "./controls.js";
import { Plotly, setFontScale } from "./plots/common.js";
import { byId } from "./dom.js";
import { createInterferencePanel } from "./interference.js";
import { renderBias } from "./plots/bias.js";
import { renderFeatureTable } from "./plots/features.js";
import { renderGeometry } from "./plots/geometry.js";
import { renderGram } from "./plots/gram.js";
import { renderLoss } from "./plots/loss.js";
import { renderNorms } from "./plots/norms.js";
import { createPage, layoutElements, loadServerConfig } from "./page.js";
import { DEFAULT_LIMITS, PROPS, parseHash, toRequest, useServerDefaults } from "./state.js";
import { describe, formatDetail, setHeadline, setLossNote, setProgress, showError } from "./status.js";
import { buildTransport } from "./transport.js";

/** Quiet time after the last control change before the request goes out, in ms. */
export const DEBOUNCE_MS = 100;

/** The state's view-only fields: changing them never sends a request. */
const VIEW_FIELDS = Object.freeze(PROPS.filter((p) => p.view).map((p) => p.name));

/** The request fields a warm start must share with the model it starts from (issue 16). */
export const SHAPE_FIELDS = Object.freeze(["n_features", "n_hidden", "activation"]);

/**
 * Whether a model trained by `from` can seed a training of `to` (`init_from`): the same n, m and
 * activation (the explorer's models all reconstruct, with no hidden activation).
 * @param {Record<string, unknown>|null} from
 * @param {Record<string, unknown>} to
 * @returns {boolean}
 */
export function canCarry(from, to) {
  return !!from && SHAPE_FIELDS.every((name) => from[name] === to[name]);
}

/** How many loss points the curve keeps across carried-on runs (older ones are thinned). */
const MAX_LOSS_POINTS = 4000;


/**
 * Start the explorer: read the limits and the URL, build the controls, connect and train.
 * @returns {Promise<void>}
 */
export async function main() {
  const dom = {
    ...layoutElements(),
    gram: byId("gram"),
    bias: byId("bias"),
    norms: byId("norms"),
    geometry: byId("geometry"),
    geometryNote: byId("geometry-note"),
    loss: byId("loss"),
    lossNote: byId("loss-note"),
    features: byId("features-body"),
    featuresNote: byId("features-note"),
    download: /** @type {HTMLAnchorElement} */ (byId("download-weights")),
    plots: /** @type {HTMLElement} */ (document.querySelector(".plots")),
  };
  /** Offer the stored model's weights file, or (no id: it is not stored yet) hide the link. */
  const offerWeights = (/** @type {string} */ id) => {
    dom.download.hidden = !id;
    if (id) dom.download.href = weightsUrl(id);
    else dom.download.removeAttribute("href");
  };

  /** Which kind of error the banner shows: "server" (a refused request), "connection", "limits"
   * or "token". */
  let errorKind = "";
  const setError = (kind, message) => {
    errorKind = message ? kind : "";
    showError(dom.error, message);
  };

  // Inside the comparison page's frame: no site header (styles.css).
  if (window.top !== window) document.body.classList.add("embedded");

  // The server's limits and defaults (page.js): its ModelRequest schema is their one source.
  const config = await loadServerConfig(dom.error);
  if (config === null) return; // every request would be refused: do not open the live socket
  if (!dom.error.hidden) errorKind = "limits";
  const limits = { ...DEFAULT_LIMITS, ...config.limits };
  useServerDefaults(config.defaults.ModelRequest);

  /** The page's state: `page.state` (URL hash, limits, debounce: page.js). */
  let state = parseHash(window.location.hash, limits);

  const interference = createInterferencePanel({
    section: byId("interference"),
    status: byId("interference-status"),
    hist: byId("interference-hist"),
    histSummary: byId("interference-summary"),
    noise: byId("noise"),
    noiseSummary: byId("noise-summary"),
    form: /** @type {HTMLFormElement} */ (byId("bounds-form")),
    calcN: /** @type {HTMLInputElement} */ (byId("calc-n")),
    calcM: /** @type {HTMLInputElement} */ (byId("calc-m")),
    calcL: /** @type {HTMLInputElement} */ (byId("calc-l")),
    boundsBody: byId("bounds-body"),
    boundsVerdict: byId("bounds-verdict"),
    boundsError: byId("bounds-error"),
  });
  /** The activation and k of the request the live messages answer. */
  let sentModel = { activation: state.activation, power: state.power };

  // -- what the plots show, updated per message, drawn once per animation frame ---------------
  const view = {
    /** @type {any} the latest instance (instances[0]) */
    instance: null,
    nHidden: state.n_hidden,
    /** Model id the loss curve belongs to. */
    runId: "",
    lossSteps: /** @type {number[]} */ ([]),
    lossValues: /** @type {number[]} */ ([]),
    /** The model's activation and k, and whether it is finished (its `done` came). */
    model: { activation: state.activation, power: state.power },
    final: false,
    /** The feature hovered in any view (linked highlighting), −1 for none. */
    highlight: -1,
    /** Whether the server paused the running model (its snapshots say). */
    paused: false,
  };
  /** The loss curve of the runs this one carried on from, on one step axis. */
  let carried = { steps: /** @type {number[]} */ ([]), values: /** @type {number[]} */ ([]), offset: 0 };
  /** The request whose weights the socket holds (its latest snapshot or result), or null. */
  let heldModel = /** @type {Record<string, unknown>|null} */ (null);
  /** The request of the running or latest run. */
  let runRequest = /** @type {Record<string, unknown>|null} */ (null);
  /** The id of the latest finished model: a warm start's seed on a new socket. */
  let finishedId = "";
  let frame = 0;
  const draw = () => {
    frame = 0;
    const inst = view.instance;
    if (!inst) return;
    const lit = view.highlight;
    renderGram(dom.gram, inst.gram, lit);
    renderGeometry(dom.geometry, dom.geometryNote, inst.W, inst.importance, lit);
    renderNorms(dom.norms, inst, lit);
    renderBias(dom.bias, inst.b);
    renderLoss(dom.loss, view.lossSteps.slice(), view.lossValues.slice(), inst.theory_loss);
    setLossNote(dom.lossNote, inst, view.model, view.final);
    renderFeatureTable(
      /** @type {HTMLTableSectionElement} */ (dom.features), dom.featuresNote, inst, lit,
    );
    setHeadline(dom.headline, inst, view.nHidden);
    dom.plots.dataset.highlight = String(lit);
    hookHover();
  };

  // -- linked highlighting: hovering feature i anywhere marks it everywhere --------------------
  const highlight = (/** @type {number} */ i) => {
    const next = Number.isInteger(i) && i >= 0 ? i : -1;
    if (next === view.highlight) return;
    view.highlight = next;
    scheduleDraw();
  };
  let hooked = false;
  /** Listen to the plots' hover events once they exist (after their first draw). */
  const hookHover = () => {
    if (hooked || typeof (/** @type {any} */ (dom.gram)).on !== "function") return;
    hooked = true;
    const on = (/** @type {any} */ el, /** @type {(pt: any) => number} */ featureOf) => {
      if (typeof el.on !== "function") return;
      el.on("plotly_hover", (event) => highlight(featureOf(event.points?.[0])));
      el.on("plotly_unhover", () => highlight(-1));
    };
    on(dom.gram, (pt) => Number(pt?.y));
    on(dom.norms, (pt) => (pt?.curveNumber === 0 ? Number(pt.pointNumber) : -1));
    on(dom.geometry, (pt) => (Array.isArray(pt?.customdata) ? Number(pt.customdata[0]) : -1));
  };
  dom.features.addEventListener("mouseover", (event) => {
    const row = /** @type {HTMLElement} */ (event.target).closest?.("tr[data-feature]");
    if (row) highlight(Number(/** @type {HTMLElement} */ (row).dataset.feature));
  });
  dom.features.addEventListener("mouseleave", () => highlight(-1));
  const scheduleDraw = () => {
    if (!frame) frame = window.requestAnimationFrame(draw);
  };

  // -- messages from the server ---------------------------------------------------------------
  const onMessage = (message) => {
    // A control changed and its request waits out the debounce: the running one is superseded.
    if (page.pending()) return;
    if (message.type === "snapshot") {
      const inst = message.instances?.[0];
      if (!inst) return;
      if (errorKind !== "limits") setError("", "");
      const last = view.lossSteps.length ? view.lossSteps[view.lossSteps.length - 1] : -1;
      if (message.id !== view.runId) {
        view.runId = message.id;
        view.lossSteps = carried.steps.slice();
        view.lossValues = carried.values.slice();
      }
      const at = carried.offset + message.step;
      if (at !== last) {
        view.lossSteps.push(at);
        view.lossValues.push(inst.loss);
      }
      view.instance = inst;
      view.nHidden = inst.W.length;
      view.model = sentModel;
      view.final = false;
      view.paused = message.paused === true;
      heldModel = runRequest;
      offerWeights("");
      const progress = { step: message.step, steps: message.steps };
      setProgress(dom.progress, view.paused ? "paused" : "training", progress);
      transport.show({ paused: view.paused, running: true });
      scheduleDraw();
    } else if (message.type === "done") {
      const result = message.result;
      const inst = result?.instances?.[0];
      if (!inst) return;
      if (errorKind !== "limits") setError("", "");
      view.runId = result.id;
      view.lossSteps = carried.steps.concat(
        result.loss_history.map((point) => carried.offset + point.step),
      );
      view.lossValues = carried.values.concat(result.loss_history.map((point) => point.loss[0]));
      view.instance = inst;
      view.nHidden = inst.W.length;
      view.model = result.request ?? sentModel;
      view.final = true;
      view.paused = false;
      heldModel = runRequest;
      finishedId = result.id;
      offerWeights(result.id);
      const steps = result.request?.steps ?? 0;
      const secs = Number(result.train_seconds ?? 0).toFixed(1);
      const warm = result.request?.init_from ? ", carried on from the weights before" : "";
      setProgress(dom.progress, result.cached ? "cached" : "done", {
        step: steps,
        steps,
        text: result.cached
          ? `cached · ${steps} steps${warm}, trained earlier in ${secs} s on ${result.device}`
          : `done · ${steps} steps${warm} in ${secs} s on ${result.device}`,
      });
      transport.show({ paused: false, running: false });
      scheduleDraw();
      interference.show(result);
    } else if (message.type === "control") {
      // The server's answer to pause / resume / step / speed: a pause shows at once (its
      // snapshot of where the model stopped follows); a control that found nothing training
      // leaves the page as it is.
      if (!message.applied || view.final || !view.instance) return;
      if (message.paused !== view.paused) {
        view.paused = message.paused === true;
        const dataset = dom.progress.dataset;
        const progress = { step: Number(dataset.step), steps: Number(dataset.steps) };
        setProgress(dom.progress, view.paused ? "paused" : "training", progress);
        transport.show({ paused: view.paused, running: true });
      }
    } else if (message.type === "error") {
      setError("server", `The server refused this model: ${formatDetail(message.detail)}`);
      setProgress(dom.progress, "error", { text: "error" });
      transport.show({ paused: false, running: false });
      interference.refused();
    }
  };

  const client = new LiveClient({
    onMessage,
    onStatus: (status) => {
      if (status === "closed") {
        setError("connection", "Lost the connection to the server; reconnecting…");
        setProgress(dom.progress, "offline", { text: "offline" });
        heldModel = null; // the next socket has no "current" weights
      } else if (status === "open") {
        if (errorKind === "connection") setError("", "");
        if (client.pending) setProgress(dom.progress, "queued", { text: "starting…" });
      }
    },
  });

  // -- state → request -------------------------------------------------------------------------
  /**
   * The request for the current state: a warm start from the weights shown when carrying on and
   * they fit (same n, m, activation), else a fresh initialisation.
   * @param {{fresh?: boolean, steps?: number, goOn?: boolean}} [options] fresh: never carry on
   *   (Reset weights); steps: train this many steps instead of the state's (Step on a finished
   *   model); goOn: carry on whatever the toggle says (Play or Step on a finished model)
   * @returns {Record<string, unknown>}
   */
  const requestFor = ({ fresh = false, steps = 0, goOn = false } = {}) => {
    /** @type {Record<string, unknown>} */
    const request = toRequest(state);
    if (steps) request.steps = steps;
    const wanted = goOn || state.carry === "on";
    const carry = !fresh && wanted && canCarry(heldModel, request);
    // The socket's own latest weights when it has them; after a reconnect, the stored model.
    const from = carry ? (client.hasModel ? "current" : finishedId) : "";
    if (from) request.init_from = from;
    if (fresh) request.retrain = true; // watch it train from noise, even when it is cached
    return request;
  };
  /** Send a request now: the loss curve goes on from where the weights came from. */
  const start = (/** @type {Record<string, unknown>} */ request) => {
    if (request.init_from) {
      const lastStep = view.lossSteps.length ? view.lossSteps[view.lossSteps.length - 1] : 0;
      const keep = Math.max(0, view.lossSteps.length - MAX_LOSS_POINTS);
      carried = {
        steps: view.lossSteps.slice(keep),
        values: view.lossValues.slice(keep),
        offset: lastStep,
      };
    } else {
      carried = { steps: [], values: [], offset: 0 };
    }
    view.runId = ""; // the next snapshot starts its own stretch of the curve
    sentModel = { activation: state.activation, power: state.power };
    runRequest = request;
    client.send(request);
    setProgress(dom.progress, "queued", { steps: Number(request.steps), text: "starting…" });
    transport.show({ paused: false, running: true });
    interference.waiting();
  };
  const sendNow = () => start(requestFor());

  /** Show presentation mode (or not) as the state says, and redraw at its font size. */
  const applyPresentation = () => {
    if (state.present) {
      document.body.dataset.present = state.present;
      document.body.dataset.presentFigures = state.present.replace(/-/g, " ");
    } else {
      delete document.body.dataset.present;
      delete document.body.dataset.presentFigures;
    }
    if (!state.present) document.body.classList.remove("controls-open");
    // Large type for a room; a comparison frame is half a screen, so less.
    const embedded = document.body.classList.contains("embedded");
    setFontScale(state.present ? (embedded ? 1.15 : 1.6) : 1);
    for (const el of [dom.gram, dom.geometry, dom.norms, dom.bias, dom.loss]) {
      if (/** @type {any} */ (el).data) Plotly.purge(el);
    }
    hooked = false;
    scheduleDraw();
  };
  /** Change view-only settings: written to the URL, never a new request (page.js knows). */
  const setView = (/** @type {Partial<import("./state.js").State>} */ patch) => page.change(patch);
  const speedMessage = () => ({
    type: "speed",
    steps_per_second: state.speed === "max" ? null : Number(state.speed),
  });

  const transport = buildTransport({
    onPause: () => client.control({ type: "pause" }),
    onPlay: () => {
      // A paused run goes on; a finished (or refused) one trains another round from its weights.
      if (view.paused && client.pending) client.control({ type: "resume" });
      else start(requestFor({ goOn: true }));
    },
    onStep: (k) => {
      if (client.pending && client.hasModel) client.control({ type: "step", steps: k });
      else start(requestFor({ steps: k, goOn: true }));
    },
    onSpeed: (speed) => setView({ speed }), // the speed message goes out from onShow
    onCarry: (carry) => setView({ carry: carry ? "on" : "off" }),
    onReset: () => start(requestFor({ fresh: true })),
    onPresent: (present) => setView({ present }),
  });
  const controls = buildControls(dom.controls, limits, (patch) => page.change(patch));

  // -- the page controller: URL hash ⇄ state, debounce, run (page.js) --------------------------
  const page = createPage({
    fields: PROPS,
    limits,
    debounceMs: DEBOUNCE_MS,
    onShow: (next, changed) => {
      state = /** @type {import("./state.js").State} */ (next);
      controls.set(state);
      transport.set(state);
      dom.description.textContent = describe(state);
      if (changed.includes("present")) applyPresentation();
      if (changed.includes("speed")) client.control(speedMessage(), { sticky: true });
      if (changed.some((name) => !VIEW_FIELDS.includes(name))) {
        setProgress(dom.progress, "queued", { steps: state.steps, text: "starting…" });
        interference.waiting();
      }
    },
    onRun: (next) => {
      state = /** @type {import("./state.js").State} */ (next);
      sendNow();
    },
  });
  state = /** @type {import("./state.js").State} */ (page.state);
  controls.set(state);
  transport.set(state);
  dom.description.textContent = describe(state);
  if (state.speed !== "max") client.control(speedMessage(), { sticky: true });
  if (state.present) applyPresentation();

  setProgress(dom.progress, "connecting", { text: "connecting…" });
  client.connect();
  page.runNow();
}

main().catch((err) => {
  const banner = document.getElementById("error");
  if (banner) showError(banner, `The explorer failed to start: ${err.message}`);
  throw err;
});
