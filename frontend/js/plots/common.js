// What every plot shares: the Plotly global, the config, the base layout and a few helpers.

/** The Plotly global, loaded by the classic <script src="/vendor/plotly.min.js"> tag. */
export const Plotly = /** @type {any} */ (window).Plotly;

/**
 * Constant across every redraw, so that a user's zoom and pan survive `Plotly.react`.
 * @type {string}
 */
export const UI_REVISION = "explorer";

/**
 * The Plotly config of every plot: resizes with its panel, a slim mode bar.
 * @type {Readonly<object>}
 */
export const CONFIG = Object.freeze({
  responsive: true,
  displaylogo: false,
  modeBarButtonsToRemove: ["lasso2d", "select2d", "autoScale2d"],
});

/** Many small plots (thumbnails): no interaction, no mode bar (a click on the cell opens it). */
export const SMALL_CONFIG = Object.freeze({ staticPlot: true, displayModeBar: false, responsive: true });

/**
 * The layout of a thumbnail: hidden axes, thin margins, a transparent paper (new objects each
 * call: Plotly writes into a layout).
 * @param {object} [xaxis] the x axis' extra settings
 * @param {object} [yaxis] the y axis' extra settings
 * @param {object} [extra] more layout
 * @returns {object}
 */
export function thumbLayout(xaxis = {}, yaxis = {}, extra = {}) {
  const hidden = { visible: false, fixedrange: true };
  return {
    margin: { l: 2, r: 2, t: 2, b: 2 },
    paper_bgcolor: "rgba(0,0,0,0)",
    xaxis: { ...hidden, ...xaxis },
    yaxis: { ...hidden, ...yaxis },
    ...extra,
  };
}

/** Font size multiplier of every plot (presentation mode enlarges it). */
let fontScale = 1;

/**
 * Scale every plot's fonts from the next draw on (presentation mode: 1.6).
 * @param {number} scale
 * @returns {void}
 */
export function setFontScale(scale) {
  fontScale = scale > 0 ? scale : 1;
}

/**
 * The font size of plot text of base size `size` under the current scale.
 * @param {number} size
 * @returns {number}
 */
export function fontSize(size) {
  return Math.round(size * fontScale);
}

/**
 * A base layout for a panel: small margins, plain font, white background, constant uirevision.
 * @param {object} [extra] fields to merge in (shallowly)
 * @returns {object}
 */
export function baseLayout(extra = {}) {
  return {
    uirevision: UI_REVISION,
    margin: { l: 52, r: 16, t: 10, b: 44 },
    font: { family: "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif", size: fontSize(12) },
    paper_bgcolor: "rgba(0,0,0,0)",
    plot_bgcolor: "#ffffff",
    showlegend: false,
    ...extra,
  };
}

/**
 * An axis with a title (plotly.js ≥ 3 wants `title: {text}`) and light grid lines.
 * @param {string} title
 * @param {object} [extra]
 * @returns {object}
 */
export function axis(title, extra = {}) {
  return {
    title: { text: title, standoff: 6 },
    gridcolor: "#eceff3",
    zerolinecolor: "#c7ccd3",
    automargin: true,
    ...extra,
  };
}

/**
 * Indices 0..n−1 as a new array.
 * @param {number} n
 * @returns {number[]}
 */
export function range(n) {
  return Array.from({ length: n }, (_, i) => i);
}

/**
 * Tick spacing for a feature-index axis: every feature while that stays legible.
 * @param {number} n number of features
 * @returns {object} axis fields (`dtick`, or nothing to let Plotly choose)
 */
export function indexTicks(n) {
  return n <= 12 ? { dtick: 1, tick0: 0 } : {};
}

/**
 * The colour of `t` on a colour scale of [position, "#rrggbb"] stops (t clamped to [0, 1]),
 * as "rgb(r,g,b)". Used where plotly.js would otherwise map numbers itself: bars with a numeric
 * `marker.color` make plotly.js 4 warn on every draw.
 * @param {ReadonlyArray<readonly [number, string]>} scale stops sorted by position, 0 to 1
 * @param {number} t
 * @returns {string}
 */
export function colourAt(scale, t) {
  const x = Number.isFinite(t) ? Math.min(Math.max(t, 0), 1) : 0;
  let i = 1;
  while (i < scale.length - 1 && scale[i][0] < x) i += 1;
  const [p0, c0] = scale[i - 1];
  const [p1, c1] = scale[i];
  const f = p1 > p0 ? (x - p0) / (p1 - p0) : 0;
  const rgb = [1, 3, 5].map((k) => {
    const a = parseInt(c0.slice(k, k + 2), 16);
    const b = parseInt(c1.slice(k, k + 2), 16);
    return Math.round(a + (b - a) * Math.min(Math.max(f, 0), 1));
  });
  return `rgb(${rgb.join(",")})`;
}
