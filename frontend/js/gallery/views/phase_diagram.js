// The gallery's phase_diagram view: a prominent link to the phase-diagram page (which trains),
// opened on the preset's diagram, and the cached diagram's trained map as a small heatmap
// (GET /api/phase-diagrams/{id}). A click on a cell opens that model in the explorer.

import { ApiError } from "../../api.js";
import { PHASE_COLOURS, PHASE_NAMES, classesOf, renderPhaseMap } from "../../plots/phase.js";
import { explorerUrl } from "../../phase/state.js";
import { failureText } from "../../status.js";

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
  const link = document.createElement("a");
  link.className = "phase-link";
  link.href = phasePageUrl(request);
  link.textContent = `Open the phase diagram page: ${n} features in ${n - 1} dimension${n > 2 ? "s" : ""} →`;
  const intro = document.createElement("p");
  intro.className = "caption";
  intro.textContent =
    "The phase page trains the diagram live and draws it beside the closed-form theory. " +
    "Below: the cached diagram's trained phases (each cell the best seed); click a cell to open its model in the explorer.";
  const figure = document.createElement("figure");
  figure.className = "panel phase-small";
  figure.innerHTML = "<figcaption><h3>Trained phases</h3><p class=\"legend phase-legend\"></p></figcaption>";
  const plot = document.createElement("div");
  plot.className = "view-plot";
  const status = document.createElement("p");
  status.className = "note";
  status.textContent = "Loading the cached diagram…";
  figure.append(status, plot);
  container.replaceChildren(link, intro, figure);
  if (!preset.diagram_id) {
    status.textContent = "No diagram id for this preset.";
    return;
  }
  let diagram;
  try {
    diagram = await ctx.fetchJson(`/api/phase-diagrams/${preset.diagram_id}`);
  } catch (err) {
    status.textContent =
      err instanceof ApiError && err.status === 404
        ? "Not trained yet: the phase page trains it live."
        : `Could not load the cached diagram: ${failureText(err)}`;
    plot.hidden = true;
    figure.dataset.source = err instanceof ApiError && err.status === 404 ? "missing" : "error";
    return;
  }
  if (container.dataset.phasePreset !== preset.id) return; // another preset opened meanwhile
  status.hidden = true;
  figure.dataset.source = "cache";
  const legend = /** @type {HTMLElement} */ (figure.querySelector(".phase-legend"));
  legend.replaceChildren(
    ...classesOf(diagram).map((c) => {
      const item = document.createElement("span");
      item.className = "legend-item";
      item.innerHTML = `<i style="background:${PHASE_COLOURS[c] ?? "#000"}"></i>`;
      item.append(PHASE_NAMES[c] ?? c, " ");
      return item;
    }),
  );
  renderPhaseMap(plot, diagram, "empirical", (x, y) => {
    const p = diagram.feature_probability[x];
    const r = diagram.relative_importance[y];
    window.location.assign(explorerUrl(diagram.request, p, r));
  });
}
