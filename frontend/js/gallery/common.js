// What the gallery's views share (each file in views/ exports only its render… function):
// - the state and keyed children a view keeps across its redraws: `viewState`, `slot`,
//   `styledSlot`, `pruneSlots`, `purgePlots`; the caption and the grid of one clickable figure
//   per instance of the 2-D geometry and neuron views: `captionOf`, `instanceGrid`;
// - the link, note and small figure of the views that open another page: `linkedFigure`,
//   `loadLinked`;
// - labels, also main.js's: `requestLabel`, `probabilityLabel`, `sparsityTitle`, `subscript`;
// - plotting helpers: `panelsOf`, `onClickOpen`,
//   `inverseDensity`, `superpositionGradient`.

import { ApiError } from "../api.js";
import { Plotly } from "../plots/common.js";
import { SUPERPOSITION_SCALE } from "../plots/norms.js";
import { formatNumber } from "../format.js";
import { failureText } from "../status.js";

/** @typedef {import("./views.js").ViewContext} ViewContext */
/** @typedef {import("./views.js").ViewResult} ViewResult */

// -- state and keyed children ------------------------------------------------------------------

/**
 * Each container's view state across renders (the latest context, for click handlers attached on
 * an earlier render; the replay's position and cache).
 * @type {WeakMap<HTMLElement, {view: string, state: any}>}
 */
const STATES = new WeakMap();

/**
 * The state a view keeps for one container across renders, made by `init` on first use.
 * @template T
 * @param {HTMLElement} container
 * @param {string} view the view's name: a container that changes view starts afresh
 * @param {() => T} init
 * @returns {T}
 */
export function viewState(container, view, init) {
  let entry = STATES.get(container);
  if (!entry || entry.view !== view) {
    entry = { view, state: init() };
    STATES.set(container, entry);
  }
  return entry.state;
}

/**
 * The child of `parent` with `data-key="key"`, made (by `tag` and `init`) and appended if missing.
 * @param {HTMLElement} parent
 * @param {string} key
 * @param {string} [tag]
 * @param {(el: HTMLElement) => void} [init] runs once, on the new element
 * @returns {HTMLElement}
 */
export function slot(parent, key, tag = "div", init) {
  for (const child of parent.children) {
    if (/** @type {HTMLElement} */ (child).dataset.key === key) return /** @type {HTMLElement} */ (child);
  }
  const el = document.createElement(tag);
  el.dataset.key = key;
  init?.(el);
  parent.append(el);
  return el;
}

/**
 * {@link slot} for a child that needs only an inline style, set once on the new element.
 * @param {HTMLElement} parent
 * @param {string} key
 * @param {string} tag
 * @param {string} css its `style.cssText`
 * @returns {HTMLElement}
 */
export function styledSlot(parent, key, tag, css) {
  return slot(parent, key, tag, (el) => {
    el.style.cssText = css;
  });
}

/**
 * Remove the keyed children of `parent` whose key is not in `keep`. Their plots are not purged:
 * a plot purged while its draw is still settling (automargins) throws in plotly.js, and plots
 * made with `responsive: false` hold no window listener, so a removed one is simply collected.
 * @param {HTMLElement} parent
 * @param {Set<string>} keep
 * @returns {void}
 */
export function pruneSlots(parent, keep) {
  for (const child of [...parent.children]) {
    const el = /** @type {HTMLElement} */ (child);
    if (el.dataset.key !== undefined && !keep.has(el.dataset.key)) el.remove();
  }
}

/**
 * Purge every plot under `root` (before its elements are replaced).
 * @param {HTMLElement} root
 * @returns {void}
 */
export function purgePlots(root) {
  for (const el of root.querySelectorAll(".js-plotly-plot")) Plotly.purge(el);
}

/**
 * The caption over a grid of instance figures: a paragraph and a legend under it.
 * @param {HTMLElement} container
 * @returns {{text: HTMLElement, legend: HTMLElement}}
 */
export function captionOf(container) {
  const caption = slot(container, "caption");
  const text = slot(caption, "text", "p", (el) => {
    el.style.margin = "0 0 4px";
  });
  const legend = slot(caption, "legend", "div", (el) => {
    el.className = "legend";
  });
  return { text, legend };
}

/**
 * One instance's figure: title, plot, summary line. Clicking it (or Enter or Space on it) opens
 * the model.
 * @param {HTMLElement} grid
 * @param {string} key
 * @param {(fig: HTMLElement) => void} onOpen
 * @param {number} [plotPx] a square plot of this side, and the figure as wide; else both size
 *   themselves to the plot
 * @returns {{title: HTMLElement, plot: HTMLElement, summary: HTMLElement}}
 */
function instanceFigure(grid, key, onOpen, plotPx) {
  const width = plotPx ? `width:${plotPx}px;` : "";
  const fig = slot(grid, key, "figure", (el) => {
    el.style.cssText = `margin:0;${width}cursor:pointer;`;
    el.tabIndex = 0;
    el.setAttribute("role", "button");
    el.title = "open this model";
    el.addEventListener("click", () => onOpen(el));
    el.addEventListener("keydown", (event) => {
      if (event.key === "Enter" || event.key === " ") {
        event.preventDefault();
        onOpen(el);
      }
    });
  });
  const title = styledSlot(fig, "title", "figcaption", "font-size:12.5px;font-weight:600;text-align:center;white-space:nowrap;");
  const size = plotPx ? `${width}height:${plotPx}px;` : "";
  const plot = styledSlot(fig, "plot", "div", `${size}border:1px solid #eceff3;`);
  const summary = styledSlot(
    fig,
    "summary",
    "div",
    "font-size:12px;color:#5f6368;text-align:center;font-variant-numeric:tabular-nums;",
  );
  return { title, plot, summary };
}

/**
 * The grid of the 2-D geometry and neuron views: one figure per instance of every request (key
 * "r-k", made once and kept across live redraws), titled by its sparsity ({@link sparsityTitle});
 * `draw` fills its plot and summary. Figures of instances no longer there are removed, and a note
 * stands in while there are none.
 * @param {HTMLElement} container
 * @param {ViewResult[]} results
 * @param {object} options
 * @param {(r: number, k: number) => void} options.onOpen opens instance k of request r; bound when
 *   a figure is made, so it must look up the latest context itself
 * @param {(parts: {plot: HTMLElement, summary: HTMLElement}, instance: any, result: ViewResult) => void} options.draw
 * @param {(instance: any) => boolean} [options.accept] whether an instance gets a figure (all do
 *   by default)
 * @param {number} [options.plotPx] square plots of this side (else each plot sizes itself)
 * @returns {void}
 */
export function instanceGrid(container, results, { onOpen, draw, accept = () => true, plotPx }) {
  const grid = styledSlot(container, "grid", "div", "display:flex;flex-wrap:wrap;gap:12px 14px;align-items:flex-start;");
  const open = (/** @type {HTMLElement} */ fig) => {
    const [r, k] = String(fig.dataset.key).split("-").map(Number);
    onOpen(r, k);
  };
  const keep = new Set();
  results.forEach((result, r) => {
    (result?.instances ?? []).forEach((instance, k) => {
      if (!accept(instance)) return;
      const key = `${r}-${k}`;
      keep.add(key);
      const { title, plot, summary } = instanceFigure(grid, key, open, plotPx);
      title.textContent = sparsityTitle(instance.feature_probability);
      draw({ plot, summary }, instance, result);
    });
  });
  pruneSlots(grid, keep);
  const empty = slot(container, "empty", "p", (el) => {
    el.className = "note";
    el.textContent = "Waiting for the model…";
  });
  empty.hidden = keep.size > 0;
}

// -- views that open another page ------------------------------------------------------------

/**
 * @typedef {object} LinkedFigure The parts of a view that opens another page.
 * @property {HTMLElement} figure the small figure; its `data-source` says where its data came
 *   from ("cache", "missing", "error")
 * @property {HTMLElement} caption its figcaption (a title; a legend may go in it)
 * @property {HTMLElement} plot
 * @property {HTMLElement} status the note that stands in while the data loads, or says why not
 */

/**
 * Fill a view that opens another page (the phase, memorisation and power pages): a prominent
 * link, a line about that page, and one small figure of the cached result under it.
 * @param {HTMLElement} container
 * @param {{href: string, link: string, intro: string, title: string, loading: string}} text
 * @returns {LinkedFigure}
 */
export function linkedFigure(container, { href, link, intro, title, loading }) {
  const anchor = document.createElement("a");
  anchor.className = "phase-link";
  anchor.href = href;
  anchor.textContent = link;
  const about = document.createElement("p");
  about.className = "caption";
  about.textContent = intro;
  const figure = document.createElement("figure");
  figure.className = "panel phase-small";
  const caption = document.createElement("figcaption");
  const heading = document.createElement("h3");
  heading.textContent = title;
  caption.append(heading);
  const plot = document.createElement("div");
  plot.className = "view-plot";
  const status = document.createElement("p");
  status.className = "note";
  status.textContent = loading;
  figure.append(caption, status, plot);
  container.replaceChildren(anchor, about, figure);
  return { figure, caption, plot, status };
}

/**
 * Load a linked figure's cached data: on success the note goes and the figure says "cache"; on a
 * 404 it says `missing`, on another failure why, and the answer is null.
 * @template T
 * @param {LinkedFigure} parts
 * @param {() => Promise<T>} load
 * @param {string} missing the note for a 404 (not trained yet)
 * @param {string} what the data, for a failure's note ("diagram", "sweep")
 * @returns {Promise<T|null>}
 */
export async function loadLinked(parts, load, missing, what) {
  try {
    const value = await load();
    parts.status.hidden = true;
    parts.figure.dataset.source = "cache";
    return value;
  } catch (err) {
    const notFound = err instanceof ApiError && err.status === 404;
    parts.status.textContent = notFound ? missing : `Could not load the cached ${what}: ${failureText(err)}`;
    parts.plot.hidden = true;
    parts.figure.dataset.source = notFound ? "missing" : "error";
    return null;
  }
}

// -- labels -------------------------------------------------------------------------------------

/** Subscript digits, for "p₄". */
const SUBSCRIPTS = "₀₁₂₃₄₅₆₇₈₉";

/**
 * A non-negative integer in subscript digits: 4 → "₄".
 * @param {number} n
 * @returns {string}
 */
export function subscript(n) {
  return String(n).replace(/\d/g, (d) => SUBSCRIPTS[Number(d)]);
}

/**
 * A request's label (the basic grid's row heads, the progress rows, the opened instance's title).
 * @param {Record<string, any>} request
 * @returns {string}
 */
export function requestLabel(request) {
  if (request.activation === "linear") return "linear";
  if (request.activation === "power") return `power k = ${request.power ?? 3}`;
  return request.hidden_activation === "relu" ? "ReLU (hidden ReLU)" : "ReLU";
}

/**
 * An instance's p as a bare value: its probability, or the range "lo…hi" of a per-feature list.
 * For the basic grid's narrow column heads and cell labels and the opened instance's title, next
 * to a request label. {@link sparsityTitle} differs on purpose: a figure's whole title, it names
 * the features whose p differs from the others' ("p₄ = 0.02, others 0.05"), which a range hides.
 * The two print a scalar p alike.
 * @param {number|number[]} fp
 * @returns {string}
 */
export function probabilityLabel(fp) {
  if (typeof fp === "number") return formatNumber(fp);
  const lo = Math.min(...fp);
  const hi = Math.max(...fp);
  return lo === hi ? formatNumber(lo) : `${formatNumber(lo)}…${formatNumber(hi)}`;
}

/**
 * An instance's sparsity as a short title: "1 − S = 0.05"; with per-feature probabilities, the
 * features that differ from the others: "p₄ = 0.02, others 0.05" (see {@link probabilityLabel}).
 * @param {number|number[]} p the instance's feature_probability
 * @returns {string}
 */
export function sparsityTitle(p) {
  if (!Array.isArray(p)) return `1 − S = ${formatNumber(p)}`;
  if (p.length === 0) return "";
  /** @type {Map<number, number>} */
  const counts = new Map();
  for (const v of p) counts.set(v, (counts.get(v) ?? 0) + 1);
  const common = [...counts.entries()].sort((a, b) => b[1] - a[1])[0][0];
  const odd = p.map((v, i) => [i, v]).filter(([, v]) => v !== common);
  if (odd.length === 0) return `1 − S = ${formatNumber(common)}`;
  if (odd.length <= 2) {
    const named = odd.map(([i, v]) => `p${subscript(i)} = ${formatNumber(v)}`).join(", ");
    return `${named}, others ${formatNumber(common)}`;
  }
  return `p = ${formatNumber(Math.min(...p))} … ${formatNumber(Math.max(...p))}`;
}

// -- plotting helpers ---------------------------------------------------------------------------



/**
 * 1/(1 − S) of an instance: 1/p, for a per-feature list 1/min p (its sparsest feature).
 * @param {{feature_probability: number|number[]}} inst
 * @returns {number}
 */
export function inverseDensity(inst) {
  const fp = inst.feature_probability;
  return 1 / (typeof fp === "number" ? fp : Math.min(...fp));
}

/**
 * Make (once) a view's panels: `[id, title, caption]` each, and return their plot divs by id.
 * @param {HTMLElement} container
 * @param {string} key what the skeleton is for: rebuilt when it changes
 * @param {Array<[string, string, string]>} panels
 * @returns {Record<string, HTMLElement>}
 */
export function panelsOf(container, key, panels) {
  if (container.dataset.viewKey !== key) {
    purgePlots(container);
    const wrap = document.createElement("div");
    wrap.className = "view-plots";
    for (const [id, title, caption] of panels) {
      const fig = document.createElement("figure");
      fig.className = "panel";
      fig.innerHTML = "<figcaption><h3></h3><p></p></figcaption>";
      /** @type {HTMLElement} */ (fig.querySelector("h3")).textContent = title;
      /** @type {HTMLElement} */ (fig.querySelector("p")).textContent = caption;
      const plot = document.createElement("div");
      plot.className = "view-plot";
      plot.dataset.plot = id;
      fig.append(plot);
      wrap.append(fig);
    }
    container.replaceChildren(wrap);
    container.dataset.viewKey = key;
  }
  /** @type {Record<string, HTMLElement>} */
  const out = {};
  for (const el of container.querySelectorAll("[data-plot]")) out[/** @type {HTMLElement} */ (el).dataset.plot ?? ""] = /** @type {HTMLElement} */ (el);
  return out;
}

/**
 * Call `ctx.openInstance(0, k)` when a point with `customdata` k (or [k, …]) is clicked; bound
 * once per plot, always with the latest ctx.
 * @param {HTMLElement} el
 * @param {ViewContext} ctx
 * @param {(point: any) => number|undefined} [which] the instance of a clicked point
 * @returns {void}
 */
export function onClickOpen(el, ctx, which) {
  const plot = /** @type {any} */ (el);
  plot.galleryCtx = ctx;
  if (plot.galleryClickBound) return;
  plot.galleryClickBound = true;
  plot.on("plotly_click", (event) => {
    const point = event?.points?.[0];
    if (!point) return;
    const custom = point.customdata;
    const k = which ? which(point) : Array.isArray(custom) ? custom[0] : custom;
    if (Number.isInteger(k)) plot.galleryCtx.openInstance(0, k);
  });
}

/**
 * The superposition colour scale (plots/norms.js) as a CSS gradient, for a legend swatch.
 * @returns {string}
 */
export function superpositionGradient() {
  return `linear-gradient(to right, ${SUPERPOSITION_SCALE.map(([t, c]) => `${c} ${100 * t}%`).join(", ")})`;
}

/**
 * The Dᵢ of one instance, rounded to 2 decimals and counted, largest first: "D = 0.40 ×5" or
 * "D = 0.50 ×4, 0.00 ×1".
 * @param {number[]} dims
 * @returns {string}
 */
export function dimensionSummary(dims) {
  /** @type {Map<string, number>} */
  const counts = new Map();
  for (const d of dims) {
    const key = Number.isFinite(d) ? Math.abs(d).toFixed(2) : "–";
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  const parts = [...counts.entries()]
    .sort((a, b) => Number(b[0]) - Number(a[0]))
    .map(([v, c]) => (c > 1 ? `${v} ×${c}` : v));
  return `D = ${parts.join(", ")}`;
}
