import type { Prng } from './prng';

/** The most likely token. */
export function argmax(x: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < x.length; i++) if (x[i] > x[best]) best = i;
  return best;
}

/** Sample from softmax(logits / temperature), restricted to the top-p nucleus; both engines use it, so one seed picks the same tokens in each. */
export function sample(logits: ArrayLike<number>, temperature: number, topP: number, prng: Prng): number {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) max = Math.max(max, logits[i]);
  const p = new Float64Array(logits.length);
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += p[i] = Math.exp((logits[i] - max) / temperature);
  let allowed: number[];
  if (topP < 1) {
    const order = Array.from({ length: p.length }, (_, i) => i).sort((a, b) => p[b] - p[a]);
    allowed = [];
    let mass = 0;
    for (const i of order) {
      allowed.push(i);
      mass += p[i] / sum;
      if (mass >= topP) break;
    }
  } else {
    allowed = Array.from({ length: p.length }, (_, i) => i);
  }
  let total = 0;
  for (const i of allowed) total += p[i];
  let r = prng.next() * total;
  for (const i of allowed) {
    r -= p[i];
    if (r <= 0) return i;
  }
  return allowed[allowed.length - 1];
}
