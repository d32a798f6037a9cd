// A small per-feature table: importance, norm, superposition, dimensionality Dᵢ and bias.

/** Rows shown at most; a larger model gets a note instead of the rest. */
export const MAX_ROWS = 64;

/**
 * Format a number for the table: 3 decimals, or exponent form for tiny magnitudes.
 * @param {number} v
 * @returns {string}
 */
export function fmt(v) {
  if (!Number.isFinite(v)) return "–";
  if (v !== 0 && Math.abs(v) < 1e-3) return v.toExponential(1);
  return v.toFixed(3);
}

/**
 * Fill `el` (a <tbody>) with one row per feature of the instance.
 * @param {HTMLTableSectionElement} el the table body
 * @param {HTMLElement} note shown when rows were left out
 * @param {{importance: number[], feature_norms: number[], superposition: number[],
 *   dimensionality: number[], b: number[]}} instance
 * @param {number} [highlight] the feature whose row is marked (linked highlight), −1 for none
 * @returns {void}
 */
export function renderFeatureTable(el, note, instance, highlight = -1) {
  const n = instance.feature_norms.length;
  const shown = Math.min(n, MAX_ROWS);
  const rows = [];
  for (let i = 0; i < shown; i += 1) {
    rows.push(
      `<tr data-feature="${i}"${i === highlight ? ' class="highlight"' : ""}><td>${i}</td><td>${fmt(instance.importance[i])}</td>` +
        `<td>${fmt(instance.feature_norms[i])}</td>` +
        `<td>${fmt(instance.superposition[i])}</td>` +
        `<td>${fmt(instance.dimensionality[i])}</td><td>${fmt(instance.b[i])}</td></tr>`,
    );
  }
  el.innerHTML = rows.join("");
  note.hidden = shown === n;
  note.textContent = shown === n ? "" : `First ${shown} of ${n} features.`;
}
