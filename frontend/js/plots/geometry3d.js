// With three hidden dimensions, each feature's direction W[:, i] as a line from the origin to a
// point in the hidden space (one Plotly scatter3d trace per feature, coloured by feature), over a
// faint unit sphere, with the feature-geometry graph: an edge between the tips of features i and
// j weighted by |Ŵᵢ·Wⱼ| (TMS §"The Geometry of Superposition", its m = 3 polyhedra). The user
// turns the scene by dragging (Plotly's scene rotation); the camera survives redraws.

import { CONFIG, Plotly, fontSize } from "./common.js";

/** One colour per feature (Plotly's D3 category 10, then a few more). */
export const FEATURE_COLOURS = Object.freeze([
  "#1f77b4",
  "#ff7f0e",
  "#2ca02c",
  "#d62728",
  "#9467bd",
  "#8c564b",
  "#e377c2",
  "#7f7f7f",
  "#bcbd22",
  "#17becf",
  "#393b79",
  "#637939",
]);

/** Edges below this |Ŵᵢ·Wⱼ| are not drawn (nearly orthogonal features share nothing). */
export const EDGE_MIN = 0.05;

/** A feature whose ‖Wᵢ‖ is below this is not learned: no point, no edges. */
const DROPPED_NORM = 0.05;

/** Edge bands, strongest first: [lowest |Ŵᵢ·Wⱼ|, colour, width]. */
const EDGE_BANDS = Object.freeze([
  [0.6, "rgba(60, 64, 67, 0.85)", 5],
  [0.3, "rgba(95, 99, 104, 0.6)", 3.5],
  [EDGE_MIN, "rgba(154, 160, 166, 0.45)", 2],
]);

/**
 * The feature-geometry graph's edges: every pair i < j of learned features with
 * max(|Ŵᵢ·Wⱼ|, |Ŵⱼ·Wᵢ|) ≥ `min`.
 * @param {number[][]} W n_hidden × n_features
 * @param {number} [min]
 * @returns {{i: number, j: number, weight: number}[]}
 */
export function geometryEdges(W, min = EDGE_MIN) {
  const n = W[0]?.length ?? 0;
  const col = (i) => W.map((row) => row[i]);
  const norms = Array.from({ length: n }, (_, i) => Math.hypot(...col(i)));
  const edges = [];
  for (let i = 0; i < n; i += 1) {
    for (let j = i + 1; j < n; j += 1) {
      if (norms[i] < DROPPED_NORM || norms[j] < DROPPED_NORM) continue;
      const dot = W.reduce((s, row) => s + row[i] * row[j], 0);
      const weight = Math.abs(dot) / Math.min(norms[i], norms[j]);
      if (weight >= min) edges.push({ i, j, weight });
    }
  }
  return edges;
}

/**
 * The traces of one 3-D drawing: the unit sphere's three great circles, the graph's edges (a
 * trace per weight band), then one trace per feature (`meta.feature` = i; its name "feature i").
 * @param {number[][]} W 3 × n_features
 * @param {object} [options]
 * @param {string[]} [options.colours] a colour per feature (else {@link FEATURE_COLOURS})
 * @param {string[]} [options.hover] an extra hover line per feature
 * @param {number} [options.highlight] the feature drawn thick (linked highlight), −1 for none
 * @returns {object[]}
 */
export function geometry3dTraces(W, { colours, hover, highlight = -1 } = {}) {
  const n = W[0]?.length ?? 0;
  const traces = [sphereTrace()];
  const edges = geometryEdges(W);
  for (let b = 0; b < EDGE_BANDS.length; b += 1) {
    const [lo, colour, width] = EDGE_BANDS[b];
    const hi = b === 0 ? Infinity : EDGE_BANDS[b - 1][0];
    const x = [];
    const y = [];
    const z = [];
    for (const { i, j, weight } of edges) {
      if (weight < lo || weight >= hi) continue;
      x.push(W[0][i], W[0][j], null);
      y.push(W[1][i], W[1][j], null);
      z.push(W[2][i], W[2][j], null);
    }
    traces.push({
      type: "scatter3d",
      mode: "lines",
      name: `edges |Ŵᵢ·Wⱼ| ≥ ${lo}`,
      meta: { kind: "edges", min: lo },
      x,
      y,
      z,
      line: { color: colour, width },
      hoverinfo: "skip",
      showlegend: false,
    });
  }
  for (let i = 0; i < n; i += 1) {
    const [x, y, z] = [W[0][i], W[1][i], W[2][i]];
    const norm = Math.hypot(x, y, z);
    const colour = colours?.[i] ?? FEATURE_COLOURS[i % FEATURE_COLOURS.length];
    const learned = norm >= DROPPED_NORM;
    traces.push({
      type: "scatter3d",
      mode: n <= 24 ? "lines+markers+text" : "lines+markers",
      name: `feature ${i}`,
      meta: { feature: i },
      x: [0, x],
      y: [0, y],
      z: [0, z],
      text: ["", learned ? String(i) : ""],
      textposition: "top center",
      textfont: { size: fontSize(12), color: "#202124" },
      customdata: [
        [i, norm, hover?.[i] ?? ""],
        [i, norm, hover?.[i] ?? ""],
      ],
      line: { color: colour, width: i === highlight ? 12 : 6 },
      marker: { size: [0, learned ? 6 : 0], color: colour, line: { width: 0 } },
      hovertemplate:
        "feature %{customdata[0]}<br>W[:, i] = (%{x:.3f}, %{y:.3f}, %{z:.3f})" +
        "<br>‖W<sub>i</sub>‖ = %{customdata[1]:.3f}<br>%{customdata[2]}<extra></extra>",
      showlegend: n <= 12,
    });
  }
  return traces;
}

/**
 * The unit sphere as three dotted great circles (one trace, `meta.kind` "sphere").
 * @returns {object}
 */
function sphereTrace() {
  const x = [];
  const y = [];
  const z = [];
  const steps = 64;
  for (const plane of [0, 1, 2]) {
    for (let k = 0; k <= steps; k += 1) {
      const t = (2 * Math.PI * k) / steps;
      const [c, s] = [Math.cos(t), Math.sin(t)];
      const point = plane === 0 ? [c, s, 0] : plane === 1 ? [c, 0, s] : [0, c, s];
      x.push(point[0]);
      y.push(point[1]);
      z.push(point[2]);
    }
    x.push(null);
    y.push(null);
    z.push(null);
  }
  return {
    type: "scatter3d",
    mode: "lines",
    name: "unit sphere",
    meta: { kind: "sphere" },
    x,
    y,
    z,
    line: { color: "#d5d9de", width: 1.5 },
    hoverinfo: "skip",
    showlegend: false,
  };
}

/**
 * Draw (or redraw) the feature directions of a model with three hidden dimensions into `el`.
 * The scene keeps the user's rotation across redraws (`uirevision`).
 * @param {HTMLElement} el
 * @param {number[][]} W 3 × n_features
 * @param {object} [options] as {@link geometry3dTraces}, and:
 * @param {string} [options.uirevision] constant across redraws of the same figure
 * @param {boolean} [options.legend] show the features' legend (n ≤ 12)
 * @param {number} [options.reach] half the side of the shown cube (else fitted to the features)
 * @returns {void}
 * @throws {Error} W does not have three rows
 */
export function drawGeometry3d(el, W, { uirevision = "geometry3d", legend = true, reach, ...rest } = {}) {
  if (!Array.isArray(W) || W.length !== 3) {
    throw new Error(`drawn for 3 hidden dimensions; this model has ${W?.length ?? "?"}`);
  }
  const n = W[0].length;
  const longest = Math.max(0, ...Array.from({ length: n }, (_, i) => Math.hypot(W[0][i], W[1][i], W[2][i])));
  const r = reach ?? Math.max(1, longest) * 1.15;
  const ax = (title) => ({
    title: { text: title, font: { size: fontSize(11) } },
    range: [-r, r],
    autorange: false,
    zeroline: true,
    zerolinecolor: "#bdc1c6",
    showspikes: false,
    tickfont: { size: fontSize(9) },
    backgroundcolor: "#ffffff",
  });
  const layout = {
    uirevision,
    margin: { l: 0, r: 0, t: 0, b: 0 },
    font: { family: "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif", size: fontSize(11) },
    paper_bgcolor: "rgba(0,0,0,0)",
    showlegend: legend && n <= 12,
    legend: { x: 0, y: 1, bgcolor: "rgba(255,255,255,0.7)", font: { size: fontSize(10) } },
    scene: {
      uirevision,
      aspectmode: "cube",
      xaxis: ax("h₀"),
      yaxis: ax("h₁"),
      zaxis: ax("h₂"),
      camera: { eye: { x: 1.5, y: 1.3, z: 0.9 } },
      dragmode: "turntable",
    },
    hovermode: "closest",
  };
  Plotly.react(el, geometry3dTraces(W, rest), layout, { ...CONFIG, displayModeBar: false });
}
