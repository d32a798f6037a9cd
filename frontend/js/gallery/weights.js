// Quantities the gallery computes from an instance's weights in the browser. The gallery asks the
// server to leave the n × n WᵀW out of its answers (`gram=false`: 19 MB for the 200-feature
// presets), and computes it here from W (n_hidden × n_features) where a view draws it.

/**
 * WᵀW of an instance, (n_features × n_features): the server's when it sent one, else computed
 * from W once and kept on the instance.
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
