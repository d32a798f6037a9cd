// The gallery's double_descent view: a prominent link to the memorisation page (which trains
// live and opens each T's model), opened on the preset's sweep, and the cached sweep's test and
// train loss against T with the peak marked (GET /api/double-descent/{id}). A click on a T opens
// the page there.

import { stateOfRequest, serializeMemoState } from "../../memorisation/state.js";
import { renderSweepLosses } from "../../plots/double_descent.js";
import { linkedFigure, loadLinked } from "../common.js";

/** @typedef {import("../views.js").ViewContext} ViewContext */

/**
 * The memorisation page's URL for a DoubleDescentRequest.
 * @param {Record<string, any>} request
 * @returns {string}
 */
export function memorisationPageUrl(request) {
  return `/memorisation.html#${serializeMemoState(stateOfRequest(request))}`;
}

/**
 * Fill `container` once per preset: the link, then the small loss plot once the sweep arrives.
 * @param {HTMLElement} container
 * @param {ViewContext} ctx
 * @returns {Promise<void>}
 */
export async function renderDoubleDescent(container, ctx) {
  const { preset } = ctx;
  if (container.dataset.sweepPreset === preset.id) return;
  container.dataset.sweepPreset = preset.id;
  const request = preset.double_descent ?? {};
  const parts = linkedFigure(container, {
    href: memorisationPageUrl(request),
    link: "Open the memorisation page: loss, dimensionalities and each T's model →",
    intro:
      "The memorisation page trains the sweep live, plots the features' and the data points' " +
      "dimensionality against T, and draws each T's features and training points. Below: the " +
      "cached sweep's losses.",
    title: "Test and train loss against T",
    loading: "Loading the cached sweep…",
  });
  if (!preset.sweep_id) {
    parts.status.textContent = "No sweep id for this preset.";
    return;
  }
  const sweep = await loadLinked(
    parts,
    () => ctx.fetchJson(`/api/double-descent/${preset.sweep_id}`),
    "Not trained yet: the memorisation page trains it live.",
    "sweep",
  );
  if (!sweep || container.dataset.sweepPreset !== preset.id) return; // or another preset opened
  renderSweepLosses(parts.plot, sweep.points, {
    onPick: () => window.location.assign(memorisationPageUrl(sweep.request)),
  });
}
