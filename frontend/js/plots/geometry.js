// With two hidden dimensions, each feature's direction W[:, i] as an arrow from the origin in the
// hidden plane: the paper's pentagons, antipodal pairs and the like. The explorer's large plot
// (`renderGeometry`) and the gallery's small ones, one per instance (`renderPlaneThumb`).

import { CONFIG, Plotly, axis, baseLayout, fontSize } from "./common.js";
import { drawGeometry3d } from "./geometry3d.js";

/** The colour of the highlighted feature's arrow. */
export const HIGHLIGHT = "rgba(255, 150, 0, 0.8)";

/**
 * The dotted unit circle under the arrows, as a Plotly shape (a new object each call: Plotly
 * may write into a layout's shapes). The gallery's 2-D geometry view draws it too.
 * @returns {object}
 */
export function unitCircle() {
  return {
    type: "circle",
    xref: "x",
    yref: "y",
    x0: -1,
    y0: -1,
    x1: 1,
    y1: 1,
    line: { color: "#c7ccd3", width: 1, dash: "dot" },
    layer: "below",
  };
}

/**
 * Draw (or redraw) the feature directions into `el` when n_hidden = 2 (arrows in the plane) or 3
 * (a turnable 3-D scene, plots/geometry3d.js); otherwise hide `el` and show `note` instead.
 * @param {HTMLElement} el the #geometry div
 * @param {HTMLElement} note the element that explains why there is no drawing
 * @param {number[][]} W n_hidden rows of n_features columns
 * @param {number[]} importance Iᵢ, colours the arrow heads
 * @param {number} [highlight] the feature whose arrow is drawn thick (linked highlight), −1 for none
 * @returns {void}
 */
export function renderGeometry(el, note, W, importance, highlight = -1) {
  if (W.length === 3) {
    const wasHidden3d = el.hidden;
    el.hidden = false;
    note.hidden = true;
    el.dataset.highlight = String(highlight >= 0 && highlight < W[0].length ? highlight : -1);
    drawGeometry3d(el, W, { uirevision: "explorer-geometry3d", highlight, legend: false });
    if (wasHidden3d) Plotly.Plots.resize(el);
    return;
  }
  if (W.length !== 2) {
    el.hidden = true;
    note.hidden = false;
    note.textContent =
      `The feature directions are drawn when the hidden space is a plane (m = 2) or 3-D ` +
      `(m = 3); this model has m = ${W.length}. Set hidden dimensions to 2 or 3 to see them.`;
    return;
  }
  const wasHidden = el.hidden;
  el.hidden = false;
  note.hidden = true;

  const [wx, wy] = W;
  const n = wx.length;
  // One trace: origin → tip, gap, origin → tip, …; an arrow-head marker at each tip points away
  // from the previous point (the origin).
  const x = [];
  const y = [];
  const size = [];
  const colour = [];
  const custom = [];
  let reach = 0;
  for (let i = 0; i < n; i += 1) {
    const norm = Math.hypot(wx[i], wy[i]);
    reach = Math.max(reach, norm);
    x.push(0, wx[i], null);
    y.push(0, wy[i], null);
    size.push(0, norm > 1e-3 ? 11 : 0, 0);
    colour.push(importance[i], importance[i], importance[i]);
    custom.push([i, norm], [i, norm], [i, norm]);
  }
  const r = Math.max(reach, 1) * 1.2;
  const arrows = {
    type: "scatter",
    mode: "lines+markers",
    x,
    y,
    customdata: custom,
    line: { color: "#5f6368", width: 1.5 },
    marker: {
      symbol: "arrow",
      angleref: "previous",
      size,
      color: colour,
      cmin: 0,
      cmax: Math.max(...importance, 1e-6),
      colorscale: "Viridis",
      reversescale: true,
      line: { width: 0 },
    },
    hovertemplate:
      "feature %{customdata[0]}<br>W[:, i] = (%{x:.3f}, %{y:.3f})" +
      "<br>‖W<sub>i</sub>‖ = %{customdata[1]:.3f}<extra></extra>",
  };
  const labels = {
    type: "scatter",
    mode: "text",
    x: wx.map((v, i) => v * (1 + 0.12 * r / Math.max(Math.hypot(v, wy[i]), 1e-3))),
    y: wy.map((v, i) => v * (1 + 0.12 * r / Math.max(Math.hypot(wx[i], v), 1e-3))),
    text: wx.map((_, i) => (n <= 24 ? String(i) : "")),
    textfont: { size: fontSize(11), color: "#3c4043" },
    hoverinfo: "skip",
  };
  const lit = highlight >= 0 && highlight < n;
  const marked = {
    type: "scatter",
    mode: "lines",
    x: lit ? [0, wx[highlight]] : [],
    y: lit ? [0, wy[highlight]] : [],
    line: { color: HIGHLIGHT, width: 6 },
    hoverinfo: "skip",
  };
  el.dataset.highlight = String(lit ? highlight : -1);
  const layout = baseLayout({
    margin: { l: 44, r: 12, t: 10, b: 40 },
    xaxis: axis("hidden dim 0", { range: [-r, r], zeroline: true }),
    yaxis: axis("hidden dim 1", { range: [-r, r], scaleanchor: "x", scaleratio: 1, zeroline: true }),
    shapes: [unitCircle()],
  });
  Plotly.react(el, [marked, arrows, labels], layout, CONFIG);
  if (wasHidden) Plotly.Plots.resize(el);
}

/** Half the width of a small plot's square of the plane, unless a feature reaches further. */
const HALF_RANGE = 1.5;

/** The faint axes through the origin of a small plot. */
const AXIS_LINE = Object.freeze({ color: "#eceff3", width: 1 });

/**
 * The traces of one instance: a line per arrow (grouped by colour), the tips with their hover,
 * and the index labels just beyond the tips.
 * @param {number[][]} W 2 × n
 * @param {{colours: string[], groups: string[]}} colouring a colour and a hover line per feature
 * @param {number[]} norms ‖Wᵢ‖
 * @param {number[]} dims Dᵢ
 * @param {number} reach half the shown range
 * @returns {object[]}
 */
function arrowTraces(W, colouring, norms, dims, reach) {
  const [wx, wy] = W;
  const n = wx.length;
  /** @type {Map<string, {x: (number|null)[], y: (number|null)[]}>} */
  const lines = new Map();
  for (let i = 0; i < n; i += 1) {
    const colour = n <= 48 ? colouring.colours[i] : "#9aa0a6";
    if (!lines.has(colour)) lines.set(colour, { x: [], y: [] });
    const line = /** @type {{x: (number|null)[], y: (number|null)[]}} */ (lines.get(colour));
    line.x.push(0, wx[i], null);
    line.y.push(0, wy[i], null);
  }
  const traces = [...lines.entries()].map(([colour, { x, y }]) => ({
    type: "scatter",
    mode: "lines",
    x,
    y,
    line: { color: colour, width: 1.8 },
    hoverinfo: "skip",
  }));
  traces.push({
    type: "scatter",
    mode: "markers",
    x: wx,
    y: wy,
    customdata: wx.map((_, i) => [i, norms[i], dims[i], colouring.groups[i]]),
    marker: { color: colouring.colours, size: 8, line: { color: "#ffffff", width: 1 } },
    hovertemplate:
      "feature %{customdata[0]}<br>‖W<sub>i</sub>‖ = %{customdata[1]:.3f}" +
      "<br>D<sub>i</sub> = %{customdata[2]:.3f}<br>%{customdata[3]}<extra></extra>",
  });
  // Labels a fixed distance beyond each tip, along its direction; none for a dropped feature.
  // Only the labelled points go in: plotly.js 4 loses other labels of a text trace on
  // Plotly.react when one of its entries turns empty.
  const pad = 0.13 * reach;
  const labels = n <= 24 ? tipLabels(wx, wy, norms, 0.08 * reach) : [];
  const shown = labels.flatMap((text, i) => (text ? [i] : []));
  traces.push({
    type: "scatter",
    mode: "text",
    x: shown.map((i) => wx[i] * (1 + pad / norms[i])),
    y: shown.map((i) => wy[i] * (1 + pad / norms[i])),
    text: shown.map((i) => labels[i]),
    textfont: { size: 11, color: "#3c4043" },
    hoverinfo: "skip",
  });
  return traces;
}

/**
 * Each tip's label: its index, or for tips that (nearly) coincide, as a collapsed correlated
 * pair does, one label "0,1" on the first of them and none on the others. Dropped features
 * (‖Wᵢ‖ ≤ 0.05) get none.
 * @param {number[]} wx
 * @param {number[]} wy
 * @param {number[]} norms
 * @param {number} near tips closer than this share a label
 * @returns {string[]}
 */
function tipLabels(wx, wy, norms, near) {
  const labels = wx.map(() => "");
  const taken = wx.map(() => false);
  for (let i = 0; i < wx.length; i += 1) {
    if (taken[i] || norms[i] <= 0.05) continue;
    const group = [i];
    for (let j = i + 1; j < wx.length; j += 1) {
      if (!taken[j] && norms[j] > 0.05 && Math.hypot(wx[i] - wx[j], wy[i] - wy[j]) < near) {
        group.push(j);
        taken[j] = true;
      }
    }
    labels[i] = group.join(",");
  }
  return labels;
}

/**
 * A small square plot of one instance's feature directions (the gallery's 2-D geometry figure):
 * a line per arrow in its feature's colour, the tips with their hover, index labels beyond them,
 * the unit circle and faint axes; no axes or interaction beyond the hover.
 * @param {HTMLElement} el
 * @param {number[][]} W 2 × n (already in the figure's common orientation)
 * @param {{norms: number[], dims: number[], colours: string[], groups: string[]}} features
 *   per feature: ‖Wᵢ‖, Dᵢ, colour and a hover line
 * @param {number} sizePx the plot's side
 * @returns {void}
 */
export function renderPlaneThumb(el, W, { norms, dims, colours, groups }, sizePx) {
  const reach = Math.max(HALF_RANGE, 1.15 * Math.max(0, ...norms));
  const hidden = { visible: false, range: [-reach, reach], fixedrange: true };
  const layout = {
    uirevision: "gallery-geometry",
    width: sizePx,
    height: sizePx,
    margin: { l: 4, r: 4, t: 4, b: 4 },
    paper_bgcolor: "rgba(0,0,0,0)",
    plot_bgcolor: "#ffffff",
    font: { family: "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif", size: 11 },
    showlegend: false,
    dragmode: false,
    hovermode: "closest",
    xaxis: hidden,
    yaxis: { ...hidden, scaleanchor: "x", scaleratio: 1 },
    shapes: [
      unitCircle(),
      { type: "line", x0: -reach, x1: reach, y0: 0, y1: 0, line: AXIS_LINE, layer: "below" },
      { type: "line", x0: 0, x1: 0, y0: -reach, y1: reach, line: AXIS_LINE, layer: "below" },
    ],
  };
  Plotly.react(el, arrowTraces(W, { colours, groups }, norms, dims, reach), layout, {
    ...CONFIG,
    responsive: false,
    displayModeBar: false,
  });
}
