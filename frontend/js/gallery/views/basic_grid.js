// The gallery's basic_grid view (TMS §"Basic Results"): one row per request (linear, ReLU), one
// column per instance (1 − S = p). Each cell: a small WᵀW heatmap (one colour range for every
// cell) above a small ‖Wᵢ‖ bar chart coloured by superposition. Clicking a cell opens it.

import { GRAM_RANGE, renderGramThumb } from "../../plots/gram.js";
import { renderNormThumb } from "../../plots/norms.js";
import { formatNumber } from "../../format.js";
import { probabilityLabel, purgePlots, requestLabel, superpositionGradient } from "../common.js";
import { gramOf } from "../weights.js";

/** @typedef {import("../views.js").ViewContext} ViewContext */

/**
 * Build the grid's skeleton (headers, one cell per instance) when its shape changed.
 * @param {HTMLElement} container
 * @param {ViewContext} ctx
 * @param {string} key the shape
 * @returns {void}
 */
function buildGrid(container, ctx, key) {
  purgePlots(container);
  const cols = Math.max(...ctx.results.map((r) => r.instances.length));
  const table = document.createElement("div");
  table.className = "grid-table";
  table.style.gridTemplateColumns = `1.6em repeat(${cols}, minmax(90px, 1fr))`;
  table.append(document.createElement("span"));
  const first = ctx.results[0].instances;
  for (let k = 0; k < cols; k += 1) {
    const head = document.createElement("span");
    head.className = "grid-head";
    head.textContent = first[k] ? `1−S = ${probabilityLabel(first[k].feature_probability)}` : "";
    table.append(head);
  }
  ctx.results.forEach((result, r) => {
    const rowHead = document.createElement("span");
    rowHead.className = "grid-row-head";
    rowHead.textContent = requestLabel(result.request);
    table.append(rowHead);
    for (let k = 0; k < cols; k += 1) {
      const cell = document.createElement("div");
      if (k < result.instances.length) {
        cell.className = "grid-cell";
        cell.tabIndex = 0;
        cell.setAttribute("role", "button");
        cell.dataset.row = String(r);
        cell.dataset.col = String(k);
        const gram = document.createElement("div");
        gram.className = "grid-gram";
        const norms = document.createElement("div");
        norms.className = "grid-norms";
        cell.append(gram, norms);
      }
      table.append(cell);
    }
  });
  const caption = document.createElement("p");
  caption.className = "caption";
  caption.innerHTML =
    "Each cell, top: WᵀW (entry (i, j) = Wᵢ·Wⱼ; red positive, blue negative, white 0; " +
    '<span class="grid-range"></span>). Below: the feature norms ‖Wᵢ‖ (bar height, same scale in ' +
    "every cell), each bar coloured by its superposition Σⱼ≠ᵢ(Ŵᵢ·Wⱼ)²: black 0 (orthogonal to " +
    `every other feature) <span class="swatch" style="background:${superpositionGradient()}"></span>` +
    " yellow ≥ 1 (shares its direction). Click a cell for its larger plots.";
  const open = (event) => {
    const cell = /** @type {HTMLElement|null} */ (/** @type {HTMLElement} */ (event.target).closest(".grid-cell"));
    if (!cell) return;
    if (event instanceof KeyboardEvent && event.key !== "Enter" && event.key !== " ") return;
    event.preventDefault();
    /** @type {any} */ (container).galleryCtx.openInstance(Number(cell.dataset.row), Number(cell.dataset.col));
  };
  table.addEventListener("click", open);
  table.addEventListener("keydown", open);
  container.replaceChildren(table, caption);
  container.dataset.gridKey = key;
}

/**
 * Draw (or redraw) the grid.
 * @param {HTMLElement} container
 * @param {ViewContext} ctx
 * @returns {void}
 */
export function renderBasicGrid(container, ctx) {
  /** @type {any} */ (container).galleryCtx = ctx;
  const key = ctx.results
    .map((r) => [requestLabel(r.request), r.request.n_features, ...r.instances.map((i) => probabilityLabel(i.feature_probability))].join(":"))
    .join("|");
  if (container.dataset.gridKey !== key) buildGrid(container, ctx, key);
  // The explorer's fixed WᵀW colours (plots/gram.js): the same brightness means the same overlap
  // in every cell, at every step.
  const zmax = GRAM_RANGE;
  let normMax = 1;
  for (const result of ctx.results) {
    for (const inst of result.instances) normMax = Math.max(normMax, ...inst.feature_norms);
  }
  const rangeNote = container.querySelector(".grid-range");
  if (rangeNote) rangeNote.textContent = `fixed colours: white 0, full red +${formatNumber(zmax)}, full blue −${formatNumber(zmax)} in every cell (beyond saturates)`;
  ctx.results.forEach((result, r) => {
    result.instances.forEach((inst, k) => {
      const cell = container.querySelector(`.grid-cell[data-row="${r}"][data-col="${k}"]`);
      if (!cell) return;
      cell.setAttribute("aria-label", `${requestLabel(result.request)}, 1−S = ${probabilityLabel(inst.feature_probability)}: open`);
      // plots/: the explorer's fixed WᵀW colours, the ‖Wᵢ‖ bars on one scale for every cell
      renderGramThumb(/** @type {HTMLElement} */ (cell.querySelector(".grid-gram")), gramOf(inst));
      renderNormThumb(/** @type {HTMLElement} */ (cell.querySelector(".grid-norms")), inst, normMax);
    });
  });
}
