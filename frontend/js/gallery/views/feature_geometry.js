// The gallery's feature_geometry view (TMS §"The Geometry of Superposition"): D*, the dimensions
// per feature, of each instance, and every learned feature's dimensionality Dᵢ, against
// 1/(1 − S), with the fractions of the uniform polytopes as dashed lines. Clicking opens an instance.

import { Plotly, axis, baseLayout, colourAt, range } from "../../plots/common.js";
import { SUPERPOSITION_SCALE } from "../../plots/norms.js";
import { VIEW_CONFIG, fractionLines, inverseDensity, logAxis, onClickOpen, panelsOf } from "../common.js";

/** @typedef {import("../views.js").ViewContext} ViewContext */

/** Features shorter than this are not learned and are left out of the Dᵢ scatter. */
const MIN_NORM = 0.1;

/**
 * A deterministic jitter factor in [1 − w, 1 + w] for feature i (stable across redraws).
 * @param {number} i
 * @param {number} [w]
 * @returns {number}
 */
function jitter(i, w = 0.07) {
  const u = (Math.sin(12.9898 * (i + 1)) * 43758.5453) % 1;
  return 1 + w * (2 * Math.abs(u) - 1);
}

/**
 * Draw (or redraw) D* and the Dᵢ scatter of the first request.
 * @param {HTMLElement} container
 * @param {ViewContext} ctx
 * @returns {void}
 */
export function renderFeatureGeometry(container, ctx) {
  const { instances } = ctx.results[0];
  const plots = panelsOf(container, `geometry:${instances.length}`, [
    ["dstar", "Dimensions per feature D* = m / ‖W‖²_F", "One point per sparsity; dashed: the polytopes' fractions. Click a point to open that model."],
    ["features", "Each feature's dimensionality Dᵢ", `Features with ‖Wᵢ‖ < ${MIN_NORM} are not learned and are left out; x jittered slightly; colour = superposition Σⱼ≠ᵢ(Ŵᵢ·Wⱼ)², black 0 to yellow ≥ 1. Click a point to open its model.`],
  ]);
  const x = instances.map(inverseDensity);
  // The polytopes' fractions, named, in this view's greys.
  const lines = fractionLines({ named: true, line: "#9aa3ad", text: "#5f6b7a" });
  const margin = { l: 52, r: 130, t: 8, b: 44 };
  const xaxis = logAxis("1/(1 − S)", x);
  const dstar = {
    type: "scatter",
    mode: "lines+markers",
    x,
    y: instances.map((inst) => inst.dimensions_per_feature),
    customdata: range(instances.length),
    marker: { size: 8, color: "#2f6db5" },
    line: { color: "#2f6db5" },
    hovertemplate: "1/(1−S) = %{x:.3g}<br>D* = %{y:.3f}<extra></extra>",
  };
  const yaxis = axis("D*", { range: [0, 1.1] });
  Plotly.react(plots.dstar, [dstar], baseLayout({ margin, xaxis, yaxis, ...lines }), VIEW_CONFIG);
  onClickOpen(plots.dstar, ctx);

  const px = [];
  const py = [];
  const colour = [];
  const custom = [];
  let skipped = 0;
  instances.forEach((inst, k) => {
    inst.dimensionality.forEach((d, i) => {
      if (!(inst.feature_norms[i] >= MIN_NORM) || !Number.isFinite(d)) {
        skipped += 1;
        return;
      }
      px.push(x[k] * jitter(i));
      py.push(d);
      colour.push(colourAt(SUPERPOSITION_SCALE, inst.superposition[i]));
      custom.push([k, i]);
    });
  });
  const scatter = {
    type: "scatter",
    mode: "markers",
    x: px,
    y: py,
    customdata: custom,
    marker: {
      size: 5,
      opacity: 0.75,
      color: colour,
      line: { color: "#5f6b7a", width: 0.3 },
    },
    hovertemplate: "feature %{customdata[1]}<br>D<sub>i</sub> = %{y:.3f}<extra></extra>",
  };
  const layout = baseLayout({
    margin,
    xaxis,
    yaxis: axis("Dᵢ", { range: [0, 1.1] }),
    ...lines,
    annotations: [
      ...lines.annotations,
      {
        xref: "paper",
        yref: "paper",
        x: 0,
        y: 1,
        xanchor: "left",
        yanchor: "top",
        text: `${skipped} of ${skipped + px.length} not learned (‖Wᵢ‖ < ${MIN_NORM}), not shown`,
        showarrow: false,
        font: { size: 10, color: "#5f6b7a" },
      },
    ],
  });
  Plotly.react(plots.features, [scatter], layout, VIEW_CONFIG);
  onClickOpen(plots.features, ctx);
}
