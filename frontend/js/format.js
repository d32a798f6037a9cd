// Number formatting shared by the controls and the status line.

/**
 * Format p and S = 1 − p with as many decimals as p needs (p = 0.0126 → "S = 0.9874").
 * @param {number} p feature probability in (0, 1]
 * @returns {{p: string, s: string}} p to 3 significant digits, and S
 */
export function formatSparsity(p) {
  const pText = String(Number(p.toPrecision(3)));
  const decimals = pText.includes(".") ? pText.split(".")[1].length : 0;
  return { p: pText, s: (1 - p).toFixed(decimals) };
}

/**
 * A number for prose and small tables: `digits` significant digits, exponent form for very large
 * or very small magnitudes, "–" for null or a non-finite value.
 * @param {number|null|undefined} x
 * @param {number} [digits]
 * @returns {string}
 */
export function formatNumber(x, digits = 3) {
  if (x === null || x === undefined || !Number.isFinite(x)) return "–";
  if (x !== 0 && (Math.abs(x) >= 1e6 || Math.abs(x) < 1e-3)) return x.toExponential(digits - 1);
  return String(Number(x.toPrecision(digits)));
}

/**
 * How far `a` lies from the reference `b`, relative to b, in words: "0.021 % above",
 * "3.1 % below", "within 0.001 %"; "–" when b is 0 or either is not finite.
 * @param {number} a
 * @param {number} b the reference
 * @returns {string}
 */
export function formatGap(a, b) {
  const change = relativeChange(a, b);
  if (!change) return "–";
  if (Math.abs(change.pct) < 0.001) return "within 0.001 %";
  return `${change.text} % ${change.pct > 0 ? "above" : "below"}`;
}

/**
 * `a` relative to `b` in percent, and its size as text (2 significant digits below 10 %); null
 * when b is 0 or either is not finite.
 * @param {number} a
 * @param {number} b the reference
 * @returns {{pct: number, text: string}|null}
 */
function relativeChange(a, b) {
  if (!Number.isFinite(a) || !Number.isFinite(b) || b === 0) return null;
  const pct = (100 * (a - b)) / Math.abs(b);
  const size = Math.abs(pct);
  return { pct, text: size >= 10 ? size.toFixed(0) : String(Number(size.toPrecision(2))) };
}

/**
 * The relative change from `b` to `a` as a signed percentage, "+23 %" or "−4.1 %" (2 significant
 * digits below 10 %); "–" when b is 0 or either is not finite.
 * @param {number} a
 * @param {number} b the reference
 * @returns {string}
 */
export function formatChange(a, b) {
  const change = relativeChange(a, b);
  return change ? `${change.pct < 0 ? "−" : "+"}${change.text} %` : "–";
}
