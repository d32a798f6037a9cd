// The pages' only arithmetic on the model's quantities (issue 16: no maths in the page layer):
// WᵀW from W, a common orientation of 2-D plots, the log sliders' mapping, a line times a
// constant, the memorisation page's log-spaced training-set sizes, and a replay's running-median
// loss and regime starts. Everything else (the power page's log spacing and power rule
// n = mᵏ + 1, losses, gains, bounds, dimensionalities, theory lines) comes from the server.

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
 * Map a log-slider position (log₁₀ of the value) to its value, to 3 significant digits.
 * @param {number|string} position
 * @returns {number}
 */
export function fromLogSlider(position) {
  return Number((10 ** Number(position)).toPrecision(3));
}

/**
 * Map a positive value to its log-slider position, log₁₀ of it.
 * @param {number} value
 * @returns {number}
 */
export function toLogSlider(value) {
  return Math.log10(value);
}

/**
 * Map a log-slider position (log10 p, in [-3, 0]) to a probability, to 3 significant digits.
 * @param {number|string} position
 * @returns {number}
 */
export function sliderToProbability(position) {
  return fromLogSlider(position);
}

/**
 * Map a probability to its log-slider position, log10 p.
 * @param {number} p
 * @returns {number}
 */
export function probabilityToSlider(p) {
  return toLogSlider(p);
}

/**
 * A line multiplied by a constant (the power page's scaling shapes, drawn with its constant C).
 * @param {ReadonlyArray<number>} values
 * @param {number} c
 * @returns {number[]}
 */
export function scaled(values, c) {
  return values.map((v) => v * c);
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

/**
 * `count` integers log-spaced from `first` to `last` (both kept), repeats dropped: the
 * memorisation page's n_train_values (benchmarks/double_descent.py rounds the server's
 * tms.theory.log_spaced the same way, so the page's default sweep is the shipped one).
 * @param {number} first
 * @param {number} last
 * @param {number} count
 * @returns {number[]}
 */
export function logSpacedIntegers(first, last, count) {
  if (count <= 1 || first === last) return [first];
  const lo = Math.log(first);
  const hi = Math.log(last);
  const values = [first];
  for (let k = 1; k < count - 1; k += 1) values.push(Math.round(Math.exp(lo + ((hi - lo) * k) / (count - 1))));
  values.push(last);
  return [...new Set(values)].sort((a, b) => a - b);
}

/**
 * A running median of the loss (the batch loss is noisy): window `w` points.
 * @param {number[]} values
 * @param {number} [w]
 * @returns {number[]}
 */
export function runningMedian(values, w = 9) {
  return values.map((_, i) => {
    const part = values.slice(Math.max(0, i - (w >> 1)), i + (w >> 1) + 1).filter(Number.isFinite);
    part.sort((a, b) => a - b);
    return part[part.length >> 1];
  });
}

/**
 * The regimes of a replayed run: the snapshot indices where the sorted Dᵢ of instance 0, rounded
 * to 0.1, change to a pattern that then holds for `hold` snapshots in a row (a new geometry).
 * @param {any[]} snapshots SnapshotSummary[]
 * @param {number} [hold]
 * @returns {number[]} snapshot indices where a regime starts (after the first)
 */
export function regimeStarts(snapshots, hold = 4) {
  const keys = snapshots.map((s) =>
    (s.dimensionality?.[0] ?? [])
      .map((d) => (Math.round(d * 10) / 10).toFixed(1))
      .sort()
      .join(","),
  );
  const starts = [];
  let current = keys[0];
  for (let k = 1; k + hold <= keys.length; k += 1) {
    const held = keys.slice(k, k + hold).every((key) => key === keys[k]);
    if (keys[k] !== current && held) {
      starts.push(k);
      current = keys[k];
    }
  }
  return starts;
}
