// The explorer's transport bar: play / pause, step k, speed, carry on from these weights, reset
// weights, and presentation mode. It only reports what the user asked for; main.js decides what
// to send (a control message or a request) and tells the bar what the model is doing.

import { byId } from "./dom.js";
import { PRESENTATIONS, SPEEDS } from "./state.js";

/** Largest k the Step button takes (its field's max). */
export const MAX_STEP = 10000;

/** The names of the presentation layouts, in the menu. */
const PRESENTATION_NAMES = Object.freeze({
  "gram-geometry": "WᵀW + directions",
  gram: "WᵀW only",
  geometry: "directions only",
  "geometry-norms": "directions + norms",
  "gram-norms": "WᵀW + norms",
  loss: "loss only",
});

/**
 * @typedef {object} TransportHandlers
 * @property {() => void} onPlay go on training (resume, or train on from a finished model)
 * @property {() => void} onPause
 * @property {(k: number) => void} onStep train k steps, then pause
 * @property {(speed: "max"|number) => void} onSpeed
 * @property {(carry: boolean) => void} onCarry
 * @property {() => void} onReset train the current setting from a fresh initialisation
 * @property {(present: string) => void} onPresent the presentation layout, "" for off
 */

/**
 * @typedef {object} Transport
 * @property {(info: {paused: boolean, running: boolean}) => void} show whether the model is paused
 *   and whether a training runs (a finished model shows ▶: play trains on from it)
 * @property {(state: {carry: string, speed: "max"|number, present: string}) => void} set show the
 *   view settings of a state (reports nothing)
 */

/**
 * Wire the transport bar of index.html.
 * @param {TransportHandlers} handlers
 * @returns {Transport}
 */
export function buildTransport(handlers) {
  const bar = byId("transport");
  const play = /** @type {HTMLButtonElement} */ (byId("play"));
  const step = /** @type {HTMLButtonElement} */ (byId("step"));
  const stepSize = /** @type {HTMLInputElement} */ (byId("step-size"));
  const speed = /** @type {HTMLSelectElement} */ (byId("speed"));
  const carry = /** @type {HTMLInputElement} */ (byId("carry-on"));
  const reset = /** @type {HTMLButtonElement} */ (byId("reset-weights"));
  const presentToggle = /** @type {HTMLButtonElement} */ (byId("present-toggle"));
  const presentLayout = /** @type {HTMLSelectElement} */ (byId("present-layout"));
  const controlsToggle = /** @type {HTMLButtonElement} */ (byId("controls-toggle"));

  stepSize.max = String(MAX_STEP);
  for (const value of SPEEDS) {
    const option = document.createElement("option");
    option.value = String(value);
    option.textContent = value === "max" ? "as fast as it goes" : `${value} steps/s`;
    speed.append(option);
  }
  for (const value of PRESENTATIONS.filter(Boolean)) {
    const option = document.createElement("option");
    option.value = value;
    option.textContent = PRESENTATION_NAMES[value] ?? value;
    presentLayout.append(option);
  }

  /** What the play button does now: "pause" while training, else "play". */
  let playAction = "pause";
  play.addEventListener("click", () => (playAction === "pause" ? handlers.onPause() : handlers.onPlay()));
  step.addEventListener("click", () => {
    const k = Math.round(Number(stepSize.value));
    if (!(k >= 1 && k <= MAX_STEP)) {
      stepSize.setCustomValidity(`1 – ${MAX_STEP}`);
      stepSize.reportValidity();
      return;
    }
    stepSize.setCustomValidity("");
    handlers.onStep(k);
  });
  speed.addEventListener("change", () => {
    const value = speed.value === "max" ? "max" : Number(speed.value);
    handlers.onSpeed(value);
  });
  carry.addEventListener("change", () => handlers.onCarry(carry.checked));
  reset.addEventListener("click", () => handlers.onReset());
  presentToggle.addEventListener("click", () =>
    handlers.onPresent(document.body.dataset.present ? "" : presentLayout.value || "gram-geometry"));
  presentLayout.addEventListener("change", () => handlers.onPresent(presentLayout.value));
  controlsToggle.addEventListener("click", () => {
    const open = !document.body.classList.contains("controls-open");
    document.body.classList.toggle("controls-open", open);
    controlsToggle.setAttribute("aria-expanded", String(open));
  });
  // Space toggles play / pause (not while typing in a field).
  window.addEventListener("keydown", (event) => {
    const target = /** @type {HTMLElement} */ (event.target);
    if (event.key !== " " || /^(INPUT|SELECT|TEXTAREA|BUTTON)$/.test(target.tagName)) return;
    event.preventDefault();
    play.click();
  });

  return {
    show({ paused, running }) {
      playAction = running && !paused ? "pause" : "play";
      play.textContent = playAction === "pause" ? "❚❚ Pause" : "▶ Play";
      play.setAttribute("aria-pressed", String(playAction === "play"));
      bar.dataset.paused = String(paused);
      bar.dataset.running = String(running);
    },
    set(state) {
      speed.value = String(state.speed);
      carry.checked = state.carry === "on";
      presentLayout.hidden = !state.present;
      controlsToggle.hidden = !state.present;
      if (state.present) presentLayout.value = state.present;
      presentToggle.textContent = state.present ? "Exit presentation" : "Present";
    },
  };
}
