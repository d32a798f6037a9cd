// The controller: URL ⇄ state ⇄ controls, state → request over the live socket, messages → plots.

import { LiveClient, TokenRequired, fetchLimits, weightsUrl } from "./api.js";
import { buildControls } from "./controls.js";
import { byId } from "./dom.js";
import { createInterferencePanel } from "./interference.js";
import { renderBias } from "./plots/bias.js";
import { renderFeatureTable } from "./plots/features.js";
import { renderGeometry } from "./plots/geometry.js";
import { renderGram } from "./plots/gram.js";
import { renderLoss } from "./plots/loss.js";
import { renderNorms } from "./plots/norms.js";
import { DEFAULT_LIMITS, clampState, parseHash, serializeState, toRequest, writeStateToUrl }
  from "./state.js";
import { describe, formatDetail, setHeadline, setLossNote, setProgress, showError } from "./status.js";

/** Quiet time after the last control change before the request goes out, in ms. */
export const DEBOUNCE_MS = 100;


/**
 * Start the explorer: read the limits and the URL, build the controls, connect and train.
 * @returns {Promise<void>}
 */
export async function main() {
  const dom = {
    controls: byId("controls"),
    progress: byId("progress"),
    error: byId("error"),
    headline: byId("headline"),
    description: byId("description"),
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

  let limits = { ...DEFAULT_LIMITS };
  try {
    limits = { ...limits, ...(await fetchLimits()) };
  } catch (err) {
    if (err instanceof TokenRequired) {
      setError("token", err.message);
      return; // every request would be refused: do not open the live socket
    }
    setError("limits", `Could not read the server's limits (${err.message}); assuming defaults.`);
  }

  let state = parseHash(window.location.hash, limits);
  writeStateToUrl(state);

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
  };
  let frame = 0;
  const draw = () => {
    frame = 0;
    const inst = view.instance;
    if (!inst) return;
    renderGram(dom.gram, inst.gram);
    renderGeometry(dom.geometry, dom.geometryNote, inst.W, inst.importance);
    renderNorms(dom.norms, inst);
    renderBias(dom.bias, inst.b);
    renderLoss(dom.loss, view.lossSteps.slice(), view.lossValues.slice(), inst.theory_loss);
    setLossNote(dom.lossNote, inst, view.model, view.final);
    renderFeatureTable(/** @type {HTMLTableSectionElement} */ (dom.features), dom.featuresNote, inst);
    setHeadline(dom.headline, inst, view.nHidden);
  };
  const scheduleDraw = () => {
    if (!frame) frame = window.requestAnimationFrame(draw);
  };

  // -- messages from the server ---------------------------------------------------------------
  let sendTimer = 0;
  const onMessage = (message) => {
    // A control changed and its request waits out the debounce: the running one is superseded.
    if (sendTimer) return;
    if (message.type === "snapshot") {
      const inst = message.instances?.[0];
      if (!inst) return;
      if (errorKind !== "limits") setError("", "");
      const last = view.lossSteps.length ? view.lossSteps[view.lossSteps.length - 1] : -1;
      if (message.id !== view.runId || message.step < last) {
        view.runId = message.id;
        view.lossSteps = [];
        view.lossValues = [];
      }
      if (message.step !== last) {
        view.lossSteps.push(message.step);
        view.lossValues.push(inst.loss);
      }
      view.instance = inst;
      view.nHidden = inst.W.length;
      view.model = sentModel;
      view.final = false;
      offerWeights("");
      setProgress(dom.progress, "training", { step: message.step, steps: message.steps });
      scheduleDraw();
    } else if (message.type === "done") {
      const result = message.result;
      const inst = result?.instances?.[0];
      if (!inst) return;
      if (errorKind !== "limits") setError("", "");
      view.runId = result.id;
      view.lossSteps = result.loss_history.map((point) => point.step);
      view.lossValues = result.loss_history.map((point) => point.loss[0]);
      view.instance = inst;
      view.nHidden = inst.W.length;
      view.model = result.request ?? sentModel;
      view.final = true;
      offerWeights(result.id);
      const steps = result.request?.steps ?? 0;
      const secs = Number(result.train_seconds ?? 0).toFixed(1);
      setProgress(dom.progress, result.cached ? "cached" : "done", {
        step: steps,
        steps,
        text: result.cached
          ? `cached · ${steps} steps, trained earlier in ${secs} s on ${result.device}`
          : `done · ${steps} steps in ${secs} s on ${result.device}`,
      });
      scheduleDraw();
      interference.show(result);
    } else if (message.type === "error") {
      setError("server", `The server refused this model: ${formatDetail(message.detail)}`);
      setProgress(dom.progress, "error", { text: "error" });
      interference.refused();
    }
  };

  const client = new LiveClient({
    onMessage,
    onStatus: (status) => {
      if (status === "closed") {
        setError("connection", "Lost the connection to the server; reconnecting…");
        setProgress(dom.progress, "offline", { text: "offline" });
      } else if (status === "open") {
        if (errorKind === "connection") setError("", "");
        if (client.pending) setProgress(dom.progress, "queued", { text: "starting…" });
      }
    },
  });

  // -- state → request -------------------------------------------------------------------------
  const sendNow = () => {
    sendTimer = 0;
    sentModel = { activation: state.activation, power: state.power };
    client.send(toRequest(state));
    setProgress(dom.progress, "queued", { steps: state.steps, text: "starting…" });
    interference.waiting();
  };
  const sendSoon = () => {
    window.clearTimeout(sendTimer);
    sendTimer = window.setTimeout(sendNow, DEBOUNCE_MS);
    setProgress(dom.progress, "queued", { steps: state.steps, text: "starting…" });
    interference.waiting();
  };

  const controls = buildControls(dom.controls, limits, (patch) => {
    const next = clampState({ ...state, ...patch }, limits);
    if (serializeState(next) === serializeState(state)) return;
    state = next;
    if (Object.keys(patch).length > 1) controls.set(state); // a reset changes every control
    else controls.reveal(state); // e.g. k shows only with the power activation
    writeStateToUrl(state);
    dom.description.textContent = describe(state);
    sendSoon();
  });
  controls.set(state);
  dom.description.textContent = describe(state);

  // A link edited by hand (or pasted) while the page is open.
  window.addEventListener("hashchange", () => {
    const next = parseHash(window.location.hash, limits);
    writeStateToUrl(next); // show the clamped form
    if (serializeState(next) === serializeState(state)) return;
    state = next;
    controls.set(state);
    dom.description.textContent = describe(state);
    sendSoon();
  });

  setProgress(dom.progress, "connecting", { text: "connecting…" });
  client.connect();
  sendNow();
}

main().catch((err) => {
  const banner = document.getElementById("error");
  if (banner) showError(banner, `The explorer failed to start: ${err.message}`);
  throw err;
});
