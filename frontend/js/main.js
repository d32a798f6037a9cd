// The controller: URL ⇄ state ⇄ controls, state → request over the live socket, messages → plots.

import { LiveClient, TokenRequired, fetchLimits } from "./api.js";
import { buildControls } from "./controls.js";
import { byId } from "./dom.js";
import { renderBias } from "./plots/bias.js";
import { renderFeatureTable } from "./plots/features.js";
import { renderGeometry } from "./plots/geometry.js";
import { renderGram } from "./plots/gram.js";
import { renderLoss } from "./plots/loss.js";
import { renderNorms } from "./plots/norms.js";
import { DEFAULT_LIMITS, clampState, parseHash, serializeState, toRequest, writeStateToUrl }
  from "./state.js";
import { describe, formatDetail, setHeadline, setProgress, showError } from "./status.js";

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
    features: byId("features-body"),
    featuresNote: byId("features-note"),
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

  // -- what the plots show, updated per message, drawn once per animation frame ---------------
  const view = {
    /** @type {any} the latest instance (instances[0]) */
    instance: null,
    nHidden: state.n_hidden,
    /** Model id the loss curve belongs to. */
    runId: "",
    lossSteps: /** @type {number[]} */ ([]),
    lossValues: /** @type {number[]} */ ([]),
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
    } else if (message.type === "error") {
      setError("server", `The server refused this model: ${formatDetail(message.detail)}`);
      setProgress(dom.progress, "error", { text: "error" });
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
    client.send(toRequest(state));
    setProgress(dom.progress, "queued", { steps: state.steps, text: "starting…" });
  };
  const sendSoon = () => {
    window.clearTimeout(sendTimer);
    sendTimer = window.setTimeout(sendNow, DEBOUNCE_MS);
    setProgress(dom.progress, "queued", { steps: state.steps, text: "starting…" });
  };

  const controls = buildControls(dom.controls, limits, (patch) => {
    const next = clampState({ ...state, ...patch }, limits);
    if (serializeState(next) === serializeState(state)) return;
    state = next;
    if (Object.keys(patch).length > 1) controls.set(state); // a reset changes every control
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
