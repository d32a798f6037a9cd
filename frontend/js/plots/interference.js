// The trained model's pairwise cosines Ŵᵢ·Ŵⱼ (represented features only) as a histogram over
// the same histogram of random unit vectors, with the RMS, maximum and JL reference overlaps
// (docs/THEORY.md F13–F14, Linsefors "Some costs of superposition").

import { formatNumber } from "../format.js";
import { CONFIG, Plotly, axis, baseLayout } from "./common.js";

/**
 * @typedef {object} Histogram
 * @property {number[]} edges bins + 1 edges in [−1, 1]
 * @property {number[]} counts one per bin
 */

/**
 * @typedef {object} CosineSummary `model` or `random` of an InterferenceStatistics.
 * @property {number} count pairs i < j
 * @property {number|null} rms √mean(cos²)
 * @property {number|null} max max |cos|
 * @property {number|null} mean mean cos
 * @property {Histogram} histogram
 */

/**
 * @typedef {object} InterferenceBounds `GET /api/interference/bounds` (docs/THEORY.md F13).
 * @property {number} n_features
 * @property {number} n_hidden
 * @property {number} l
 * @property {number} random_rms_overlap 1/√m
 * @property {number|null} random_expected_max_overlap expected max |cos| of n random unit vectors
 * @property {number} jl_overlap ε = √(8 ln n / m)
 * @property {number} random_noise √(l/m)
 * @property {number} jl_noise ε·√l
 * @property {number} typical_budget m
 * @property {number|null} worst_case_budget m / (8 ln n)
 */

/**
 * @typedef {object} InterferenceStatistics `GET /api/models/{id}/interference`.
 * @property {string} id
 * @property {number} instance
 * @property {number} n_features
 * @property {number} n_hidden
 * @property {number} min_norm
 * @property {number[]} represented feature indices with ‖Wᵢ‖ ≥ min_norm
 * @property {CosineSummary} model
 * @property {CosineSummary} random
 * @property {InterferenceBounds} bounds for n = represented features, m = n_hidden, l = 1
 */

/** The x axis shows cosines; a reference overlap beyond this is named in the legend only. */
const X_MAX = 1.05;

/**
 * Bin centres and widths of a histogram's edges.
 * @param {number[]} edges
 * @returns {{centres: number[], widths: number[]}}
 */
export function binsOf(edges) {
  const centres = [];
  const widths = [];
  for (let i = 0; i + 1 < edges.length; i += 1) {
    centres.push((edges[i] + edges[i + 1]) / 2);
    widths.push(edges[i + 1] - edges[i]);
  }
  return { centres, widths };
}

/**
 * The reference overlaps drawn as vertical lines: [legend name, value, colour, dash].
 * @param {InterferenceStatistics} stats
 * @returns {Array<[string, number|null, string, string]>}
 */
export function referenceLines(stats) {
  const { model, bounds } = stats;
  return [
    ["model RMS cos", model.rms, "#1f4f8f", "solid"],
    ["model max |cos|", model.max, "#1f4f8f", "dash"],
    ["random RMS 1/√m", bounds.random_rms_overlap, "#6b7480", "solid"],
    ["random expected max", bounds.random_expected_max_overlap, "#6b7480", "dash"],
    // 0 when fewer than two features are represented: no scale to draw.
    ["JL scale √(8 ln n/m)", bounds.jl_overlap > 0 ? bounds.jl_overlap : null, "#c4453c", "dot"],
  ];
}

/**
 * Draw (or redraw) the cosine histograms of the model and of random directions into `el`.
 * @param {HTMLElement} el the #interference-hist div
 * @param {InterferenceStatistics} stats
 * @returns {void}
 */
export function renderInterference(el, stats) {
  const { centres, widths } = binsOf(stats.model.histogram.edges);
  const bar = (summary, name, colour, opacity) => ({
    type: "bar",
    name,
    x: centres,
    y: summary.histogram.counts,
    width: widths,
    marker: { color: colour, line: { width: 0 } },
    opacity,
    hovertemplate: `${name}<br>cos ≈ %{x:.2f}: %{y} pairs<extra></extra>`,
  });
  const top = Math.max(1, ...stats.model.histogram.counts, ...stats.random.histogram.counts);
  const lines = referenceLines(stats)
    .filter(([, value]) => value !== null && value !== undefined && Number.isFinite(value))
    .map(([name, value, colour, dash]) => {
      const onScale = Math.abs(/** @type {number} */ (value)) <= X_MAX;
      const label = `${name} = ${formatNumber(value, 2)}${onScale ? "" : " (off the axis)"}`;
      return {
        type: "scatter",
        mode: "lines",
        name: label,
        x: onScale ? [value, value] : [null],
        y: onScale ? [0, top * 1.08] : [null],
        line: { color: colour, width: 1.6, dash },
        hovertemplate: `${label}<extra></extra>`,
      };
    });
  const layout = baseLayout({
    barmode: "overlay",
    bargap: 0,
    showlegend: true,
    legend: { orientation: "h", y: -0.22, font: { size: 10.5 } },
    xaxis: axis("cosine Ŵ<sub>i</sub>·Ŵ<sub>j</sub> (pairs of represented features)", {
      range: [-X_MAX, X_MAX],
      zeroline: false,
    }),
    yaxis: axis("pairs", { rangemode: "tozero" }),
  });
  Plotly.react(
    el,
    [
      bar(stats.model, "this model", "#2f6db5", 0.75),
      bar(stats.random, "random unit vectors", "#9aa3ad", 0.55),
      ...lines,
    ],
    layout,
    CONFIG,
  );
}

/**
 * One or two sentences: how far the model's interference is from random directions' and from
 * the JL worst case.
 * @param {InterferenceStatistics} stats
 * @returns {string}
 */
export function interferenceSummary(stats) {
  const k = stats.represented.length;
  const { model, random, bounds } = stats;
  const head =
    `${k} of ${stats.n_features} features represented (‖Wᵢ‖ ≥ ${stats.min_norm}) in ` +
    `m = ${stats.n_hidden} dimensions`;
  if (!model.count || model.rms === null || model.max === null) {
    return `${head}: fewer than two, so nothing interferes.`;
  }
  const randomRms = bounds.random_rms_overlap;
  const expectedMax = bounds.random_expected_max_overlap;
  const facts =
    `RMS cosine ${formatNumber(model.rms, 2)} vs ${formatNumber(randomRms, 2)} for random ` +
    `directions (1/√m; this draw ${formatNumber(random.rms, 2)}); max |cos| ` +
    `${formatNumber(model.max, 2)} vs ${formatNumber(expectedMax, 2)} expected for ${k} random ` +
    `directions; JL scale √(8 ln ${k}/${stats.n_hidden}) = ${formatNumber(bounds.jl_overlap, 2)}.`;
  let verdict;
  if (model.max < 0.05) {
    verdict = "The represented features are orthogonal: no interference at all.";
  } else if (model.rms < 0.8 * randomRms) {
    verdict = "Less interference than random directions: training spreads the features apart.";
  } else if (model.rms > 1.25 * randomRms) {
    verdict = "More interference than random directions (antipodal pairs, cos = −1, count in full).";
  } else {
    verdict = "About as much interference as random directions.";
  }
  const worst =
    bounds.jl_overlap > 0
      ? ` The largest overlap is ${formatNumber((100 * model.max) / bounds.jl_overlap, 2)} % ` +
        "of the JL worst-case scale."
      : "";
  const pairs = model.count === 1 ? "1 pair" : `${model.count} pairs`;
  return `${head}, ${pairs}. ${facts} ${verdict}${worst}`;
}
