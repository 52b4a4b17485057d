// Small readers for the Prometheus text format, for the demo and the benches' summaries.

/** @returns {{ name: string, labels: Record<string, string>, value: number }[]} */
export function parseMetrics(text) {
  const samples = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)/.exec(line);
    if (!match) continue;
    const labels = {};
    for (const [, k, v] of (match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[k] = v;
    samples.push({ name: match[1], labels, value: Number(match[3]) });
  }
  return samples;
}

const matches = (labels, want) => Object.entries(want).every(([k, v]) => labels[k] === v);

export function sum(samples, name, want = {}) {
  return samples.filter((s) => s.name === name && matches(s.labels, want)).reduce((a, s) => a + s.value, 0);
}

/** A quantile estimated from cumulative histogram buckets (linear inside the bucket), as histogram_quantile does. */
export function histogramQuantile(samples, base, q, want = {}) {
  const buckets = new Map();
  for (const s of samples) {
    if (s.name !== `${base}_bucket` || !matches(s.labels, want)) continue;
    const le = s.labels.le === '+Inf' ? Infinity : Number(s.labels.le);
    buckets.set(le, (buckets.get(le) ?? 0) + s.value);
  }
  const sorted = [...buckets].sort((a, b) => a[0] - b[0]);
  const total = sorted.at(-1)?.[1] ?? 0;
  if (total === 0) return undefined;
  const rank = q * total;
  let prevLe = 0;
  let prevCount = 0;
  for (const [le, count] of sorted) {
    if (count >= rank) {
      if (le === Infinity) return prevLe;
      return prevLe + ((le - prevLe) * (rank - prevCount)) / Math.max(1, count - prevCount);
    }
    prevLe = le;
    prevCount = count;
  }
  return prevLe;
}
