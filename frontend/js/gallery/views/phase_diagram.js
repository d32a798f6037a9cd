// The gallery's phase_diagram view: a prominent link to the phase-diagram page (which trains),
// opened on the preset's diagram, and the cached diagram's trained map as a small heatmap
// (GET /api/phase-diagrams/{id}). A click on a cell opens that model in the explorer.

import { PHASE_COLOURS, PHASE_NAMES, classesOf, renderPhaseMap } from "../../plots/phase.js";
import { explorerUrl } from "../../phase/state.js";
import { linkedFigure, loadLinked } from "../common.js";

/** @typedef {import("../views.js").ViewContext} ViewContext */

/**
 * The phase page's URL for a PhaseDiagramRequest (its hash keys: phase/state.js).
 * @param {Record<string, any>} request
 * @returns {string}
 */
function phasePageUrl(request) {
  const [pFirst, pLast] = request.feature_probability_range ?? [1, 0.01];
  const [rFirst, rLast] = request.relative_importance_range ?? [0.1, 10];
  const params = new URLSearchParams({
    n_features: String(request.n_features ?? 2),
    grid_size: String(request.grid_size ?? 32),
    p_first: String(pFirst),
    p_last: String(pLast),
    r_first: String(rFirst),
    r_last: String(rLast),
    n_restarts: String(request.n_restarts ?? 0),
    steps: String(request.steps ?? 1000),
    seed: String(request.seed ?? 0),
  });
  return `/phase.html#${params.toString()}`;
}

/**
 * Fill `container` once per preset: the link, then the small map once the diagram arrives.
 * @param {HTMLElement} container
 * @param {ViewContext} ctx
 * @returns {Promise<void>}
 */
export async function renderPhaseDiagram(container, ctx) {
  const { preset } = ctx;
  if (container.dataset.phasePreset === preset.id) return;
  container.dataset.phasePreset = preset.id;
  const request = preset.phase_diagram ?? {};
  const n = request.n_features ?? 2;
  const parts = linkedFigure(container, {
    href: phasePageUrl(request),
    link: `Open the phase diagram page: ${n} features in ${n - 1} dimension${n > 2 ? "s" : ""} →`,
    intro:
      "The phase page trains the diagram live and draws it beside the closed-form theory. " +
      "Below: the cached diagram's trained phases (each cell the best seed); click a cell to open its model in the explorer.",
    title: "Trained phases",
    loading: "Loading the cached diagram…",
  });
  const legend = document.createElement("p");
  legend.className = "legend phase-legend";
  parts.caption.append(legend);
  if (!preset.diagram_id) {
    parts.status.textContent = "No diagram id for this preset.";
    return;
  }
  const diagram = await loadLinked(
    parts,
    () => ctx.fetchJson(`/api/phase-diagrams/${preset.diagram_id}`),
    "Not trained yet: the phase page trains it live.",
    "diagram",
  );
  if (!diagram || container.dataset.phasePreset !== preset.id) return; // or another preset opened
  legend.replaceChildren(
    ...classesOf(diagram).map((c) => {
      const item = document.createElement("span");
      item.className = "legend-item";
      item.innerHTML = `<i style="background:${PHASE_COLOURS[c] ?? "#000"}"></i>`;
      item.append(PHASE_NAMES[c] ?? c, " ");
      return item;
    }),
  );
  renderPhaseMap(parts.plot, diagram, "empirical", (x, y) => {
    const p = diagram.feature_probability[x];
    const r = diagram.relative_importance[y];
    window.location.assign(explorerUrl(diagram.request, p, r));
  });
}
