// Phase diagrams: a categorical heatmap over (p, r) with the theory's boundary curves on top, and
// plain heatmaps of the extra feature's norm and superposition.

import { CONFIG, Plotly, axis, baseLayout } from "./common.js";

/** The colour of every class either diagram can hold. */
export const PHASE_COLOURS = Object.freeze({
  not_learned: "#d6d9de",
  dedicated: "#2f6db5",
  superposition: "#e8a33d",
  extra_superposed: "#e8a33d",
  others_superposed: "#8e5fb5",
  all_superposed: "#c4453c",
  beats_candidates: "#3c8d5a",
  other: "#ffffff",
});

/** Readable names of the classes (TMS §"Superposition as a Phase Change"). */
export const PHASE_NAMES = Object.freeze({
  not_learned: "extra feature not learned",
  dedicated: "extra feature gets a dimension",
  superposition: "superposition (antipodal)",
  extra_superposed: "extra feature antipodal with another (W ⊥ [0,1,1])",
  others_superposed: "others antipodal, extra dedicated (W ⊥ [1,1,0])",
  all_superposed: "all three superposed (W ⊥ [1,1,1])",
  beats_candidates: "beats every candidate (loss > 3 s.e. below)",
  other: "other geometry",
});

const fmt = (v) => (Number.isFinite(v) ? Number(v).toPrecision(3) : String(v));

/**
 * The classes a diagram can show: the theory's, then the extra empirical ones present.
 * @param {any} diagram a PhaseDiagramResult
 * @returns {string[]}
 */
export function classesOf(diagram) {
  const classes = [...diagram.phases];
  for (const row of diagram.empirical) {
    for (const c of row) if (!classes.includes(c)) classes.push(c);
  }
  return classes;
}

/**
 * Hover text of every cell: both classes, p and r, the trained and the candidate losses.
 * @param {any} diagram
 * @returns {string[][]}
 */
function hoverText(diagram) {
  const names = Object.keys(diagram.candidate_losses);
  return diagram.empirical.map((row, y) =>
    row.map((cls, x) => {
      const candidates = names
        .map((n) => `${n}: ${fmt(diagram.candidate_losses[n][y][x])}`)
        .join("<br>  ");
      return (
        `p = ${fmt(diagram.feature_probability[x])}, r = ${fmt(diagram.relative_importance[y])}` +
        `<br>trained: <b>${cls}</b> · theory: <b>${diagram.theory[y][x]}</b>` +
        `<br>trained L = ${fmt(diagram.loss[y][x])}` +
        `<br>‖W_extra‖ = ${fmt(diagram.extra_norm[y][x])}, ` +
        `superposition = ${fmt(diagram.extra_superposition[y][x])}` +
        `<br>candidate L:<br>  ${candidates}<br><i>click: open this model</i>`
      );
    }),
  );
}

/**
 * The boundary curves as line traces (canonical solid, optimised-bias dashed).
 * @param {any} diagram
 * @returns {object[]}
 */
function boundaryTraces(diagram) {
  return diagram.boundaries.map((curve) => ({
    type: "scatter",
    mode: "lines",
    x: curve.feature_probability,
    y: curve.relative_importance,
    line: { color: "#111", width: curve.optimised_bias ? 1.2 : 2, dash: curve.optimised_bias ? "dash" : "solid" },
    hovertemplate: `boundary ${curve.between.join(" | ")}${curve.optimised_bias ? " (F8, optimised bias)" : " (F7)"}<extra></extra>`,
  }));
}

/** The two log axes of every map: p dense on the left (as the paper), r upwards. */
function phaseLayout() {
  return baseLayout({
    xaxis: axis("feature probability p = 1 − S", { type: "log", autorange: "reversed", showgrid: false }),
    // Short enough to stay whole beside the half-width heatmaps at 1024 px.
    yaxis: axis("importance r (extra)", { type: "log", showgrid: false }),
    hovermode: "closest",
  });
}

/**
 * Draw a categorical map (the trained classes, or the theory's) with the boundaries on top.
 * @param {HTMLElement} el
 * @param {any} diagram a PhaseDiagramResult
 * @param {"empirical"|"theory"} which
 * @param {(x: number, y: number) => void} onCell called with the clicked cell's column and row
 * @returns {void}
 */
export function renderPhaseMap(el, diagram, which, onCell) {
  const classes = classesOf(diagram);
  const k = classes.length;
  const colorscale = classes.flatMap((c, i) => [
    [i / k, PHASE_COLOURS[c] ?? "#000"],
    [(i + 1) / k, PHASE_COLOURS[c] ?? "#000"],
  ]);
  const heatmap = {
    type: "heatmap",
    x: diagram.feature_probability,
    y: diagram.relative_importance,
    z: diagram[which].map((row) => row.map((c) => classes.indexOf(c))),
    zmin: -0.5,
    zmax: k - 0.5,
    colorscale,
    showscale: false,
    text: hoverText(diagram),
    hovertemplate: "%{text}<extra></extra>",
    xgap: diagram.feature_probability.length <= 16 ? 1 : 0,
    ygap: diagram.relative_importance.length <= 16 ? 1 : 0,
  };
  Plotly.react(el, [heatmap, ...boundaryTraces(diagram)], phaseLayout(), CONFIG);
  if (!(/** @type {any} */ (el)).phaseClickBound) {
    (/** @type {any} */ (el)).phaseClickBound = true;
    (/** @type {any} */ (el)).on("plotly_click", (event) => {
      const point = event.points.find((pt) => pt.data.type === "heatmap");
      if (!point) return;
      const [y, x] = point.pointIndex;
      onCell(x, y);
    });
  }
}

/**
 * Draw one numeric grid of the diagram (the extra feature's norm or superposition).
 * @param {HTMLElement} el
 * @param {any} diagram
 * @param {"extra_norm"|"extra_superposition"} name
 * @returns {void}
 */
export function renderPhaseValues(el, diagram, name) {
  const heatmap = {
    type: "heatmap",
    x: diagram.feature_probability,
    y: diagram.relative_importance,
    z: diagram[name],
    zmin: 0,
    zmax: name === "extra_norm" ? 1.2 : 1.5,
    colorscale: "Viridis",
    colorbar: {
      thickness: 10,
      len: 0.9,
      title: {
        text: name === "extra_norm" ? "‖W<sub>extra</sub>‖" : "superposition<br>Σ<sub>j</sub>(Ŵ<sub>extra</sub>·W<sub>j</sub>)²",
        side: "right",
      },
    },
    hovertemplate: `p = %{x:.3g}, r = %{y:.3g}<br>${name} = %{z:.3f}<extra></extra>`,
  };
  Plotly.react(el, [heatmap, ...boundaryTraces(diagram)], phaseLayout(), CONFIG);
}
