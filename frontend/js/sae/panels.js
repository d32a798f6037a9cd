// The SAE's figures and numbers, built into a container: the page (sae.html) and the gallery's
// "sae" view draw the same panels from an SAEResult (a live snapshot's or a stored one).

import { formatNumber } from "../format.js";
import { setProgress, statItem } from "../status.js";
import { renderSaeCosines } from "../plots/sae_cosines.js";
import { renderSaeDirections } from "../plots/sae_directions.js";
import { renderSaeFrequency } from "../plots/sae_frequency.js";
import { renderSaeLoss } from "../plots/sae_loss.js";

/**
 * The numbers shown over the plots: [data-stat key, label, tooltip, value of an SAEResult].
 * @type {ReadonlyArray<[string, string, string, (sae: any) => string]>}
 */
export const SAE_STATS = Object.freeze([
  ["mmcs", "MMCS", "mean over the represented features of the largest |cosine| with any decoder column (Sharkey et al. 2022)", (s) => formatNumber(s.mmcs, 3)],
  ["mcc", "MCC", "mean cosine under a one-to-one matching of features to latents (linear_sum_assignment)", (s) => formatNumber(s.mcc, 3)],
  ["dead", "dead latents", "latents that fire on none of the fresh samples", (s) => `${s.dead_latents} / ${s.n_latents}`],
  ["l0", "L0", "mean number of latents firing per sample", (s) => formatNumber(s.l0, 3)],
  ["explained_variance", "expl. var.", "explained variance, 1 − Σ‖h − ĥ‖² / Σ‖h − h̄‖²", (s) => formatNumber(s.explained_variance, 3)],
  ["mse", "MSE", "mean over samples of the reconstruction error, averaged over the hidden dimensions", (s) => formatNumber(s.reconstruction_mse, 3)],
]);

/**
 * @typedef {object} SaePanels
 * @property {HTMLElement} stats the numbers
 * @property {(sae: any, highlighted?: ReadonlySet<number>) => void} draw draw an SAEResult,
 *   highlighting the given latents in the directions plot
 */

/**
 * A figure with a heading, a line of caption and a plot div.
 * @param {string} id the plot div's id (prefixed)
 * @param {string} title
 * @param {string} caption
 * @param {string} headingTag "h2" on the page, "h3" in the gallery
 * @returns {{figure: HTMLElement, plot: HTMLElement}}
 */
function panel(id, title, caption, headingTag) {
  const figure = document.createElement("figure");
  figure.className = "panel";
  const cap = document.createElement("figcaption");
  const h = document.createElement(headingTag);
  h.textContent = title;
  const p = document.createElement("p");
  p.textContent = caption;
  cap.append(h, p);
  const plot = document.createElement("div");
  plot.id = id;
  plot.className = "plot sae-plot";
  figure.append(cap, plot);
  return { figure, plot };
}

/**
 * Build the numbers and the four panels into `container` (emptied first).
 * @param {HTMLElement} container
 * @param {{prefix?: string, headingTag?: string}} [options] `prefix` for the plot ids
 *   ("sae-" gives #sae-directions, #sae-cosines, #sae-frequency, #sae-loss)
 * @returns {SaePanels}
 */
export function buildSaePanels(container, { prefix = "sae-", headingTag = "h2" } = {}) {
  const stats = document.createElement("div");
  stats.className = "headline sae-stats";
  stats.setAttribute("aria-live", "polite");
  const grid = document.createElement("section");
  grid.className = "plots sae-plots";
  const directions = panel(
    `${prefix}directions`,
    "Features and decoder directions",
    "Grey: the toy model's features W[:, i]; blue: the SAE's decoder columns (unit length). A learned feature has a decoder arrow on it.",
    headingTag,
  );
  const note = document.createElement("p");
  note.className = "note";
  note.hidden = true;
  directions.figure.append(note);
  const cosines = panel(
    `${prefix}cosines`,
    "|cosine|, features × latents",
    "Columns in the matching's order: a recovered dictionary is a bright diagonal.",
    headingTag,
  );
  const frequency = panel(
    `${prefix}frequency`,
    "Latent firing frequency",
    "Fraction of fresh samples on which each latent fires; dashed: how often a feature is active.",
    headingTag,
  );
  const loss = panel(
    `${prefix}loss`,
    "SAE loss",
    "Training-batch loss of the kept SAE; vertical lines: resamplings of dead latents.",
    headingTag,
  );
  grid.append(directions.figure, cosines.figure, frequency.figure, loss.figure);
  container.replaceChildren(stats, grid);
  return {
    stats,
    draw(sae, highlighted = new Set()) {
      stats.replaceChildren(...SAE_STATS.map(([key, label, title, value]) => statItem(key, label, value(sae), title)));
      renderSaeDirections(directions.plot, note, sae, highlighted);
      renderSaeCosines(cosines.plot, sae);
      renderSaeFrequency(frequency.plot, sae);
      renderSaeLoss(loss.plot, sae);
    },
  };
}

/**
 * The latents resampled after step `after` and up to `upTo` (the events of `resampled`).
 * @param {Array<{step: number, latents: number[]}>} events
 * @param {number} after
 * @param {number} upTo
 * @returns {number[]}
 */
export function resampledBetween(events, after, upTo) {
  return (events ?? []).filter((e) => e.step > after && e.step <= upTo).flatMap((e) => e.latents);
}

/**
 * Show a live snapshot's progress: the toy model's steps while it trains first (phase "model",
 * no SAE yet), then the SAE's. The phase is also `data-phase` on the progress element.
 * @param {HTMLElement} el a .progress element
 * @param {{step: number, steps: number, phase?: string}} message a snapshot
 * @returns {void}
 */
export function showTraining(el, message) {
  const phase = message.phase ?? "sae";
  setProgress(el, "training", { step: message.step, steps: message.steps });
  el.dataset.phase = phase;
  if (phase === "model") {
    /** @type {HTMLElement} */ (el.querySelector(".progress-text")).textContent =
      `toy model first: step ${message.step} / ${message.steps}`;
  } else {
    /** @type {HTMLElement} */ (el.querySelector(".progress-text")).textContent =
      `SAE: step ${message.step} / ${message.steps}`;
  }
}

/**
 * Redraws for live snapshots: at the next animation frame, but at most one per `minMs`. The
 * server sends up to 20 snapshots a second; drawing four plots for each would take the CPU that a
 * server on the same machine trains with (a 5,000-step SAE trained 2.5× slower with the page
 * drawing every snapshot on two cores).
 * @param {() => void} draw
 * @param {number} [minMs]
 * @returns {() => void} schedule a draw
 */
export function throttledDraw(draw, minMs = 250) {
  let last = -Infinity;
  let pending = false;
  const run = () => {
    pending = false;
    last = performance.now();
    draw();
  };
  return () => {
    if (pending) return;
    pending = true;
    const wait = last + minMs - performance.now();
    if (wait <= 0) window.requestAnimationFrame(run);
    else window.setTimeout(() => window.requestAnimationFrame(run), wait);
  };
}
