/**
 * Learning rate of optimizer step `step` (0-based): linear warm-up, then cosine decay to 0.
 *
 *   step < W:       lr · (step + 1) / W                      (reaches lr on the last warm-up step, never 0)
 *   W ≤ step < N:   lr · ½ (1 + cos(π (step − W) / (N − W)))  (lr on the first step after warm-up, → 0 at N)
 *
 * **[choice]** Hugging Face's `get_cosine_schedule_with_warmup` evaluates `step / W` and so spends its first
 * step at lr 0; here the warm-up is shifted by one step so that no step is wasted. The decay reaches 0 at
 * `step = N` (one past the last step), so the last step still learns a little. Steps at or past N get 0.
 */
export function learningRate(step: number, lr: number, warmupSteps: number, totalSteps: number): number {
  if (!Number.isInteger(step) || step < 0) throw new RangeError(`step must be a non-negative integer, got ${step}`);
  if (!Number.isInteger(warmupSteps) || warmupSteps < 0) {
    throw new RangeError(`warmupSteps must be a non-negative integer, got ${warmupSteps}`);
  }
  if (!Number.isInteger(totalSteps) || totalSteps < 1) throw new RangeError(`totalSteps must be a positive integer, got ${totalSteps}`);
  if (step >= totalSteps) return 0;
  if (step < warmupSteps) return (lr * (step + 1)) / warmupSteps;
  const progress = (step - warmupSteps) / Math.max(1, totalSteps - warmupSteps);
  return lr * 0.5 * (1 + Math.cos(Math.PI * progress));
}
