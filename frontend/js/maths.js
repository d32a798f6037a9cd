// The pages' only arithmetic on the model's quantities (issue 16: no maths in the page layer):
// log spacing of a probability sweep, the power rule n = mᵏ + 1, WᵀW from W and the log slider's
// mapping. Everything else (losses, bounds, dimensionalities, theory lines) comes from the server.

/**
 * `points` values log-spaced from pMin to pMax, rounded to four significant digits, distinct and
 * ascending. One point (or pMin = pMax) gives [pMin].
 * @param {number} pMin
 * @param {number} pMax
 * @param {number} points
 * @returns {number[]}
 */
export function logSpaced(pMin, pMax, points) {
  if (points <= 1 || pMin === pMax) return [Number(pMin.toPrecision(4))];
  const ratio = Math.log(pMax / pMin);
  const values = Array.from({ length: points }, (_, i) =>
    Number((pMin * Math.exp((ratio * i) / (points - 1))).toPrecision(4)),
  );
  return [...new Set(values)].sort((a, b) => a - b);
}

/**
 * mᵏ, the number of features the power model's theorem needs n to exceed (docs/THEORY.md).
 * @param {number} m hidden dimension
 * @param {number} k the power
 * @returns {number}
 */
export function powerThreshold(m, k) {
  return m ** k;
}

/**
 * The power rule's automatic feature count n = mᵏ + 1: the fewest features in its regime.
 * @param {number} m
 * @param {number} k
 * @returns {number}
 */
export function powerRuleFeatures(m, k) {
  return powerThreshold(m, k) + 1;
}

/**
 * WᵀW of an instance, (n_features × n_features): the server's when it sent one, else computed
 * from W once and kept on the instance (the gallery asks for `gram: false`).
 * @param {{gram?: number[][]|null, W: number[][]}} inst
 * @returns {number[][]}
 */
export function gramOf(inst) {
  if (Array.isArray(inst.gram)) return inst.gram;
  const W = inst.W;
  const n = W[0]?.length ?? 0;
  /** @type {number[][]} */
  const gram = Array.from({ length: n }, () => new Array(n).fill(0));
  for (const row of W) {
    for (let i = 0; i < n; i += 1) {
      const wi = row[i];
      if (wi === 0) continue;
      const out = gram[i];
      for (let j = 0; j < n; j += 1) out[j] += wi * row[j];
    }
  }
  inst.gram = gram;
  return gram;
}

/**
 * Map a log-slider position (log10 p, in [-3, 0]) to a probability, to 3 significant digits.
 * @param {number|string} position
 * @returns {number}
 */
export function sliderToProbability(position) {
  return Number((10 ** Number(position)).toPrecision(3));
}

/**
 * Map a probability to its log-slider position, log10 p.
 * @param {number} p
 * @returns {number}
 */
export function probabilityToSlider(p) {
  return Math.log10(p);
}

/**
 * W (2 × n) turned into a common orientation, so that the 2-D plots of one figure can be compared:
 * rotated so that the first represented feature (‖Wᵢ‖ > 0.5, else the longest) points along +x,
 * and mirrored so that the next represented one lies in the upper half plane. A rotation or a
 * mirror image leaves WᵀW, and so the model's loss, unchanged.
 * @param {number[][]} W two rows of n columns
 * @returns {number[][]} a new W
 */
export function alignPlane(W) {
  const [wx, wy] = W;
  const n = wx.length;
  const norms = wx.map((x, i) => Math.hypot(x, wy[i]));
  let ref = norms.findIndex((v) => v > 0.5);
  if (ref < 0) ref = norms.indexOf(Math.max(...norms, 0));
  if (ref < 0 || !(norms[ref] > 0)) return [wx.slice(), wy.slice()];
  const angle = Math.atan2(wy[ref], wx[ref]);
  const cos = Math.cos(-angle);
  const sin = Math.sin(-angle);
  const x = wx.map((v, i) => cos * v - sin * wy[i]);
  let y = wx.map((v, i) => sin * v + cos * wy[i]);
  const next = Array.from({ length: n }, (_, i) => i).find(
    (i) => i !== ref && norms[i] > 0.5 && Math.abs(y[i]) > 1e-6,
  );
  if (next !== undefined && y[next] < 0) y = y.map((v) => -v);
  return [x, y];
}
