// With two hidden dimensions, each feature's direction W[:, i] as an arrow from the origin in the
// hidden plane: the paper's pentagons, antipodal pairs and the like. Its dotted unit circle
// (`unitCircle`) is also the gallery's 2-D geometry view's.

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
