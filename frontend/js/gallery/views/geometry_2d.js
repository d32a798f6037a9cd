// The gallery's 2-D geometry view: with two hidden dimensions, every instance's feature directions
// W[:, i] as arrows in the plane, one small square plot per instance (the paper's pentagons,
// digons, correlated pairs at right angles and their collapse into principal components).

import { colourAt } from "../../plots/common.js";
import { renderPlaneThumb } from "../../plots/geometry.js";
import { formatNumber } from "../../format.js";
import { alignPlane } from "../../maths.js";
import { captionOf, dimensionSummary, instanceGrid, viewState } from "../common.js";

/** Side of one small plot, in px: three or four across a 1024 px screen, readable projected. */
const PLOT_PX = 270;

/** Light (least important) → dark (most important), as the paper colours its 2-D arrows. */
const IMPORTANCE_SCALE = Object.freeze([
  [0, "#b9cde5"],
  [0.5, "#4a7fb8"],
  [1, "#0b2a55"],
]);

/** One colour per feature set (the paper's red, green and blue first). */
const SET_COLOURS = Object.freeze([
  "#d62728",
  "#2ca02c",
  "#1f5fb4",
  "#ff7f0e",
  "#9467bd",
  "#8c564b",
  "#e377c2",
  "#17becf",
]);

/** A feature whose probability differs from the others' (the sparser feature that collapses
 * the pentagon): coloured apart. */
const DISTINCT_COLOUR = "#e8710a";

/** Features in no set, when the request has sets. */
const NO_SET_COLOUR = "#80868b";

/**
 * A set's members for its legend: "0–1" for a run of consecutive indices, else "0, 2, 5".
 * @param {number[]} features
 * @returns {string}
 */
function membersText(features) {
  const sorted = [...features].sort((a, b) => a - b);
  const consecutive = sorted.every((v, i) => i === 0 || v === sorted[i - 1] + 1);
  return consecutive && sorted.length >= 2
    ? `${sorted[0]}–${sorted[sorted.length - 1]}`
    : sorted.join(", ");
}

/**
 * The feature sets of a request (empty when it has none).
 * @param {any} request
 * @returns {{kind: string, features: number[]}[]}
 */
function featureSets(request) {
  return Array.isArray(request?.feature_sets) ? request.feature_sets : [];
}

/**
 * Each feature's colour and what it means: by feature set when the request has sets, else by
 * importance (darker = more important).
 * @param {any} request
 * @param {number[]} importance Iᵢ
 * @param {number} n
 * @param {unknown} [probability] the instance's feature probability: a number, or one per feature
 * @returns {{colours: string[], groups: string[]}} colour and a hover line per feature
 */
function featureColours(request, importance, n, probability) {
  const sets = featureSets(request);
  if (sets.length > 0) {
    const colours = Array(n).fill(NO_SET_COLOUR);
    const groups = Array(n).fill("in no set");
    sets.forEach((set, s) => {
      for (const i of set.features) {
        if (i < n) {
          colours[i] = SET_COLOURS[s % SET_COLOURS.length];
          groups[i] = `set ${membersText(set.features)} ${set.kind}`;
        }
      }
    });
    return { colours, groups };
  }
  const imp = Array.from({ length: n }, (_, i) => Number(importance?.[i] ?? 1));
  const lo = Math.min(...imp);
  const hi = Math.max(...imp);
  const colours = imp.map((v) => colourAt(IMPORTANCE_SCALE, hi > lo ? (v - lo) / (hi - lo) : 1));
  const groups = imp.map((v) => `I<sub>i</sub> = ${formatNumber(v)}`);
  // Per-feature probabilities: the features off the common value are coloured apart.
  if (Array.isArray(probability) && probability.length === n) {
    const counts = new Map();
    for (const p of probability) counts.set(p, (counts.get(p) ?? 0) + 1);
    const common = [...counts.entries()].sort((a, b) => b[1] - a[1])[0][0];
    probability.forEach((p, i) => {
      if (p !== common) {
        colours[i] = DISTINCT_COLOUR;
        groups[i] += `, p = ${formatNumber(p)} (the others ${formatNumber(common)})`;
      }
    });
  }
  return { colours, groups };
}

/**
 * Draw one instance's arrows into `el` (plots/geometry.js), in a common orientation.
 * @param {HTMLElement} el
 * @param {any} instance an InstanceResult with n_hidden = 2
 * @param {any} request
 * @returns {void}
 */
function drawInstance(el, instance, request) {
  // Every plot of the figure in a common orientation (maths.js): the first represented feature
  // along +x, the next above it. A rotation keeps every ‖Wᵢ‖ (the server's feature_norms).
  const W = alignPlane(instance.W);
  const n = W[0].length;
  const dims = Array.from({ length: n }, (_, i) => Number(instance.dimensionality?.[i] ?? NaN));
  const colouring = featureColours(request, instance.importance, n, instance.feature_probability);
  renderPlaneThumb(el, W, { norms: instance.feature_norms, dims, ...colouring }, PLOT_PX);
}

/**
 * The caption over the plots: what the arrows and colours mean, and a legend of the sets.
 * @param {{text: HTMLElement, legend: HTMLElement}} caption
 * @param {import("../views.js").ViewResult[]} results
 * @returns {void}
 */
function renderCaption({ text, legend }, results) {
  const request = results.find((r) => featureSets(r?.request).length > 0)?.request;
  const base =
    "Each arrow is a feature's direction W[:, i] in the two hidden dimensions (dotted: the unit " +
    "circle). Under each plot, the features' dimensionalities Dᵢ = ‖Wᵢ‖² / Σⱼ (Ŵᵢ·Wⱼ)², " +
    "rounded and counted: 2/5 = 0.40 is a pentagon, 1/2 an antipodal pair (digon), 1 a " +
    "dedicated dimension, 0 a dropped feature. Hover a tip for its values; click a plot to " +
    "open that model.";
  if (request) {
    text.textContent = `${base} Colour: feature set (members of one set share a colour).`;
    legend.hidden = false;
    const sets = featureSets(request);
    legend.replaceChildren(
      ...sets.map((set, s) => {
        const item = document.createElement("span");
        item.className = "legend-item";
        const swatch = document.createElement("i");
        swatch.style.cssText =
          `display:inline-block;width:10px;height:10px;border-radius:50%;margin-right:4px;` +
          `background:${SET_COLOURS[s % SET_COLOURS.length]}`;
        item.append(swatch, `set ${membersText(set.features)} ${set.kind}`);
        return item;
      }),
    );
  } else {
    const distinct = results.some((r) =>
      (r?.instances ?? []).some((inst) => Array.isArray(inst.feature_probability)));
    text.textContent =
      `${base} Colour: importance Iᵢ, darker = more important` +
      (distinct ? "; orange: a feature with its own, different probability p." : ".") +
      " Every plot is turned so that its first represented feature points right.";
    legend.hidden = true;
    legend.replaceChildren();
  }
}

/**
 * Fill (or refresh) `container` with one arrow plot per instance of every request.
 * @param {HTMLElement} container
 * @param {import("../views.js").ViewContext} ctx
 * @returns {void}
 */
export function renderGeometry2d(container, ctx) {
  const state = viewState(container, "geometry_2d", () => ({ ctx: /** @type {any} */ (null) }));
  state.ctx = ctx;
  const results = Array.isArray(ctx?.results) ? ctx.results : [];
  renderCaption(captionOf(container), results);
  instanceGrid(container, results, {
    plotPx: PLOT_PX,
    onOpen: (r, k) => state.ctx?.openInstance?.(r, k),
    draw: ({ plot, summary }, instance, result) => {
      if (!Array.isArray(instance.W) || instance.W.length !== 2) {
        plot.hidden = true;
        summary.textContent = `drawn for 2 hidden dimensions; this model has ${instance.W?.length ?? "?"}`;
        return;
      }
      plot.hidden = false;
      drawInstance(plot, instance, result.request);
      summary.textContent = dimensionSummary(instance.dimensionality ?? []);
    },
  });
}
