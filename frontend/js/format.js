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
