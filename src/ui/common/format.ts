/** Four significant decimals for display; the exact value travels in data-value for tests and copy-paste. */
export function fmt(x: number | undefined, digits = 4): string {
  if (x === undefined || Number.isNaN(x)) return '—';
  if (!Number.isFinite(x)) return x > 0 ? '∞' : '−∞';
  return x.toFixed(digits).replace(/^-/, '−');
}
