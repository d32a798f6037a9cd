// The SAE page: URL ⇄ state ⇄ controls, state → SAERequest over WS /api/saes/live, snapshots and
// the result → the panels (panels.js). The server bounds every field; its refusals are shown
// beside the field they name.

import { LiveClient, liveUrl } from "../api.js";
import { appendButton, appendControl, byId } from "../dom.js";
import { formatDetail, loadLimits, setProgress, showError } from "../status.js";
import { buildSaePanels, resampledBetween, showTraining, throttledDraw } from "./panels.js";
import { SAE_PROPS, cleanSaeState, fieldOfLoc, parseSaeHash, serializeSaeState, toSaeRequest } from "./state.js";

/** @typedef {import("./state.js").SaeState} SaeState */

/** Quiet time after the last control change before the request goes out, in ms. */
const DEBOUNCE_MS = 400;
/** How long a resampled latent stays highlighted, in ms. */
const FLASH_MS = 1500;

/** The sidebar: [group legend, [[prop, label, help], …]]. */
const GROUPS = [
  [
    "Toy model",
    [
      ["n_features", "Features n", ""],
      ["n_hidden", "Hidden dims m", "m = 2 draws the directions in the plane."],
      ["feature_probability", "Feature probability p", "Each feature is non-zero with probability p (S = 1 − p)."],
      ["importance_decay", "Importance decay", "Iᵢ = decayⁱ; 1: all equal (the pentagon)."],
      ["model_steps", "Model steps", ""],
      ["model_restarts", "Model restarts", "Trained first, or loaded from the cache."],
    ],
  ],
  [
    "Sparse autoencoder",
    [
      ["n_latents", "Latents", "The dictionary's size; more than n: overcomplete."],
      ["architecture", "Architecture", "ReLU + L1: the standard SAE; TopK: keep the k largest."],
      ["l1_coefficient", "L1 coefficient λ", "Loss = mean (ĥ − h)² + λ Σ|a|."],
      ["k", "k", "Latents kept per sample; at most the latents."],
      ["steps", "Steps", "Adam, lr 1e-3, batch 1024."],
      ["resample_interval", "Resample every", "Steps between resamplings of dead latents; 0: never."],
      ["n_restarts", "Restarts", "SAEs trained side by side; the lowest loss is kept."],
      ["seed", "Seed", ""],
    ],
  ],
];

/**
 * @typedef {object} Sidebar
 * @property {(state: SaeState) => void} set show a state in the inputs
 * @property {(errors: Map<string, string>) => void} fieldErrors show errors beside their fields
 *   (an empty map clears them)
 */

/**
 * Build the sidebar's inputs.
 * @param {HTMLElement} container
 * @param {Record<string, number>} limits `GET /api/limits`, for the inputs' max hints
 * @param {(patch: Partial<SaeState>) => void} onChange
 * @returns {Sidebar}
 */
function buildSidebar(container, limits, onChange) {
  /** @type {Record<string, HTMLInputElement|HTMLSelectElement>} */
  const inputs = {};
  /** @type {Record<string, HTMLElement>} */
  const wraps = {};
  /** @type {Record<string, HTMLElement>} */
  const errors = {};
  for (const [legend, controls] of GROUPS) {
    const fieldset = document.createElement("fieldset");
    fieldset.className = "group";
    const lg = document.createElement("legend");
    lg.textContent = legend;
    fieldset.append(lg);
    for (const [name, label, help] of controls) {
      const prop = SAE_PROPS.find((p) => p.name === name);
      let input;
      if (prop?.type === "enum") {
        input = document.createElement("select");
        input.innerHTML = '<option value="relu">ReLU + L1</option><option value="topk">TopK</option>';
      } else {
        input = document.createElement("input");
        input.type = "number";
        input.step = prop?.type === "int" ? "1" : "any";
        if (prop?.min !== undefined) input.min = String(prop.min);
        const max = prop?.limit ? Number(limits[prop.limit]) : NaN;
        if (Number.isFinite(max)) input.max = String(max);
      }
      input.id = name;
      input.addEventListener("change", () => onChange({ [name]: input.value }));
      appendControl(fieldset, label, input, help);
      const wrap = /** @type {HTMLElement} */ (fieldset.lastElementChild);
      wrap.id = `control-${name}`;
      const error = document.createElement("p");
      error.className = "field-error";
      error.id = `error-${name}`;
      error.setAttribute("role", "alert");
      error.hidden = true;
      wrap.append(error);
      inputs[name] = input;
      wraps[name] = wrap;
      errors[name] = error;
    }
    container.append(fieldset);
  }
  return {
    set(state) {
      for (const [name, input] of Object.entries(inputs)) input.value = String(state[name]);
      wraps.l1_coefficient.hidden = state.architecture !== "relu";
      wraps.k.hidden = state.architecture !== "topk";
    },
    fieldErrors(map) {
      for (const [name, el] of Object.entries(errors)) {
        const message = map.get(name) ?? "";
        el.textContent = message;
        el.hidden = !message;
        inputs[name].setAttribute("aria-invalid", String(Boolean(message)));
        if (message) wraps[name].hidden = false; // an error on a hidden field is still shown
      }
    },
  };
}

/**
 * One line describing what the state trains.
 * @param {SaeState} s
 * @returns {string}
 */
function describe(s) {
  const arch = s.architecture === "topk" ? `TopK, k = ${s.k}` : `ReLU + L1, λ = ${s.l1_coefficient}`;
  const resample = s.resample_interval > 0 ? `dead latents resampled every ${s.resample_interval} steps` : "never resampled";
  const restarts = s.n_restarts > 1 ? `, best of ${s.n_restarts}` : "";
  return (
    `Toy model ${s.n_features} → ${s.n_hidden}, p = ${s.feature_probability}, Iᵢ = ${s.importance_decay}ⁱ ` +
    `(${s.model_steps} steps, best of ${s.model_restarts}). SAE: ${s.n_latents} latents, ${arch}, ` +
    `${s.steps} steps, ${resample}, seed ${s.seed}${restarts}.`
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
    description: byId("description"),
    sae: byId("sae"),
    status: byId("status"),
  };
  const limits = await loadLimits(dom.error);
  if (limits === null) return; // every request would be refused: do not open the live socket
  let state = parseSaeHash(window.location.hash);
  const writeUrl = () => {
    const hash = `#${serializeSaeState(state)}`;
    if (window.location.hash !== hash) window.history.replaceState(null, "", hash);
  };
  writeUrl();

  const panels = buildSaePanels(dom.sae);
  /** @type {any} the SAE drawn now */
  let sae = null;
  let lastStep = 0;
  /** @type {Map<number, number>} latent → when its highlight ends (performance.now()) */
  const flashes = new Map();
  let flashTimer = 0;
  const draw = () => {
    if (!sae) return;
    const now = performance.now();
    for (const [j, until] of flashes) if (until <= now) flashes.delete(j);
    const highlighted = new Set(flashes.keys());
    panels.draw(sae, highlighted);
    dom.sae.dataset.drawn = "true";
    dom.sae.dataset.step = String(sae.step);
    dom.sae.dataset.id = sae.id;
    dom.sae.dataset.highlighted = [...highlighted].join(",");
    window.clearTimeout(flashTimer);
    if (flashes.size) {
      const next = Math.min(...flashes.values()) - now;
      flashTimer = window.setTimeout(scheduleDraw, Math.max(next, 16));
    }
  };
  const scheduleDraw = throttledDraw(draw);
  /** @param {any} next an SAEResult */
  const show = (next) => {
    // Snapshots flash the latents resampled since the last one; a final (maybe cached) result
    // shows its history on the loss plot, not a flash of every event it had.
    if (!next.final) {
      for (const j of resampledBetween(next.resampled, lastStep, next.step)) flashes.set(j, performance.now() + FLASH_MS);
    }
    lastStep = next.step;
    sae = next;
    dom.sae.dataset.stale = "false";
    if (next.final) draw(); // at once: the plots show the result as soon as #progress says so
    else scheduleDraw();
  };

  const sidebar = buildSidebar(
    dom.controls,
    limits,
    (patch) => {
      const next = cleanSaeState({ ...state, ...patch });
      sidebar.set(next);
      if (serializeSaeState(next) === serializeSaeState(state)) return;
      state = next;
      writeUrl();
      dom.description.textContent = describe(state);
      window.clearTimeout(timer);
      timer = window.setTimeout(() => send(false), DEBOUNCE_MS);
    },
  );
  appendButton(dom.status, { id: "train", className: "reset train", text: "Retrain live", onClick: () => send(true) });
  // Pause / resume the training on the socket (the live protocol's controls; WS /api/saes/live
  // applies them to the toy model's or the SAE's training, whichever runs).
  let paused = false;
  const pauseButton = appendButton(dom.status, {
    id: "pause",
    className: "reset train",
    text: "Pause",
    onClick: () => {
      const socket = client.socket;
      if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ type: paused ? "resume" : "pause" }));
    },
  });
  /** @param {boolean} now whether the training is paused */
  const showPaused = (now) => {
    paused = now;
    pauseButton.textContent = now ? "Resume" : "Pause";
    dom.progress.dataset.paused = String(now);
    if (now) {
      const text = /** @type {HTMLElement} */ (dom.progress.querySelector(".progress-text"));
      if (!text.textContent?.endsWith("(paused)")) text.textContent = `${text.textContent} (paused)`;
    }
  };
  /** @param {boolean} training whether a training runs (the button applies) */
  const enablePause = (training) => {
    pauseButton.disabled = !training;
    if (!training) showPaused(false);
  };
  enablePause(false);

  const onMessage = (message) => {
    if (message.type === "snapshot") {
      showError(dom.error, "");
      showTraining(dom.progress, message);
      enablePause(true);
      showPaused(Boolean(message.paused));
      if (message.sae) show(message.sae);
    } else if (message.type === "control") {
      if (message.applied) showPaused(Boolean(message.paused));
    } else if (message.type === "done") {
      const result = message.result;
      showError(dom.error, "");
      enablePause(false);
      dom.progress.dataset.phase = "sae";
      const secs = Number(result.train_seconds).toFixed(1);
      const steps = result.request.steps;
      setProgress(dom.progress, result.cached ? "cached" : "done", {
        step: steps,
        steps,
        text: result.cached
          ? `cached · ${steps} steps, trained earlier in ${secs} s on ${result.device}`
          : `done · ${steps} steps in ${secs} s on ${result.device}`,
      });
      show(result);
    } else if (message.type === "error") {
      /** @type {Map<string, string>} */
      const fields = new Map();
      if (Array.isArray(message.detail)) {
        for (const item of message.detail) {
          const name = fieldOfLoc(item.loc);
          if (name && !fields.has(name)) fields.set(name, String(item.msg ?? "invalid").replace(/^Value error, /, ""));
        }
      }
      sidebar.fieldErrors(fields);
      enablePause(false);
      showError(dom.error, `The server refused this SAE: ${formatDetail(message.detail)}`);
      setProgress(dom.progress, "error", { text: "refused: nothing trained" });
      dom.sae.dataset.stale = String(sae !== null);
    }
  };
  const client = new LiveClient(
    {
      onMessage,
      onStatus: (status) => {
        if (status === "closed") setProgress(dom.progress, "offline", { text: "offline: reconnecting…" });
      },
    },
    liveUrl("/api/saes/live"),
  );

  let timer = 0;
  const send = (retrain) => {
    window.clearTimeout(timer);
    timer = 0;
    sidebar.fieldErrors(new Map());
    sidebar.set(state); // a field shown only for its error hides again if unused
    enablePause(false); // until the new training's first snapshot
    lastStep = 0;
    flashes.clear();
    const request = toSaeRequest(state);
    client.send(retrain ? { ...request, retrain: true } : request);
    setProgress(dom.progress, "queued", { steps: state.steps, text: "starting (the toy model first, unless cached)…" });
  };

  sidebar.set(state);
  dom.description.textContent = describe(state);
  window.addEventListener("hashchange", () => {
    const next = parseSaeHash(window.location.hash);
    if (serializeSaeState(next) === serializeSaeState(state)) return;
    state = next;
    sidebar.set(state);
    writeUrl();
    dom.description.textContent = describe(state);
    send(false);
  });

  setProgress(dom.progress, "connecting", { text: "connecting…" });
  client.connect();
  send(false);
}

main().catch((err) => {
  const banner = document.getElementById("error");
  if (banner) showError(banner, `The page failed to start: ${err.message}`);
  throw err;
});
