/**
 * The area under the ROC curve of scores of positives against scores of negatives: the probability that a random
 * positive scores above a random negative, a tie counting one half (the Mann–Whitney U over the product of the counts).
 * Used for the sandbox CLIP's held-out figures and the ASPO weights' (issue 12).
 */
export function auroc(positives: readonly number[], negatives: readonly number[]): number {
  if (positives.length === 0 || negatives.length === 0) {
    throw new Error(`auroc: needs at least one positive and one negative score (got ${positives.length} positives, ${negatives.length} negatives)`);
  }
  const all = [...positives.map((v) => ({ v, pos: true })), ...negatives.map((v) => ({ v, pos: false }))];
  const bad = all.find((x) => !Number.isFinite(x.v));
  if (bad) throw new Error(`auroc: every score must be a finite number (a ${bad.pos ? 'positive' : 'negative'} score is ${bad.v})`);
  all.sort((a, b) => a.v - b.v);
  // rank sum of the positives, tied scores sharing the mean of their ranks
  let rankSum = 0;
  for (let i = 0; i < all.length; ) {
    let j = i;
    while (j < all.length && all[j].v === all[i].v) j++;
    const meanRank = (i + 1 + j) / 2;
    for (let k = i; k < j; k++) if (all[k].pos) rankSum += meanRank;
    i = j;
  }
  const p = positives.length;
  return (rankSum - (p * (p + 1)) / 2) / (p * negatives.length);
}
