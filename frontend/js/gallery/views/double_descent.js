// The gallery's double_descent view: a prominent link to the memorisation page (which trains
// live and opens each T's model), opened on the preset's sweep, and the cached sweep's test and
// train loss against T with the peak marked (GET /api/double-descent/{id}). A click on a T opens
// the page there.

import { ApiError } from "../../api.js";
import { stateOfRequest, serializeMemoState } from "../../memorisation/state.js";
import { renderSweepLosses } from "../../plots/double_descent.js";
import { failureText } from "../../status.js";

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
  const link = document.createElement("a");
  link.className = "phase-link";
  link.href = memorisationPageUrl(request);
  link.textContent = "Open the memorisation page: loss, dimensionalities and each T's model →";
  const intro = document.createElement("p");
  intro.className = "caption";
  intro.textContent =
    "The memorisation page trains the sweep live, plots the features' and the data points' " +
    "dimensionality against T, and draws each T's features and training points. Below: the " +
    "cached sweep's losses.";
  const figure = document.createElement("figure");
  figure.className = "panel phase-small";
  figure.innerHTML = "<figcaption><h3>Test and train loss against T</h3></figcaption>";
  const plot = document.createElement("div");
  plot.className = "view-plot";
  const status = document.createElement("p");
  status.className = "note";
  status.textContent = "Loading the cached sweep…";
  figure.append(status, plot);
  container.replaceChildren(link, intro, figure);
  if (!preset.sweep_id) {
    status.textContent = "No sweep id for this preset.";
    return;
  }
  let sweep;
  try {
    sweep = await ctx.fetchJson(`/api/double-descent/${preset.sweep_id}`);
  } catch (err) {
    const missing = err instanceof ApiError && err.status === 404;
    status.textContent = missing
      ? "Not trained yet: the memorisation page trains it live."
      : `Could not load the cached sweep: ${failureText(err)}`;
    plot.hidden = true;
    figure.dataset.source = missing ? "missing" : "error";
    return;
  }
  if (container.dataset.sweepPreset !== preset.id) return; // another preset opened meanwhile
  status.hidden = true;
  figure.dataset.source = "cache";
  renderSweepLosses(plot, sweep.points, {
    onPick: () => window.location.assign(memorisationPageUrl(sweep.request)),
  });
}
