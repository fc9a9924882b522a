/** Learning-rate schedule, gradient clipping and EMA of weights: small pure helpers of the loop. */

/** Linear warm-up from lr/warmup to lr over `warmupSteps` optimizer steps, then constant. */
export function warmupConstant(lr: number, warmupSteps: number, step: number): number {
  if (!(warmupSteps >= 0)) throw new Error(`warmupSteps must be >= 0, got ${warmupSteps}`);
  return warmupSteps > 0 && step < warmupSteps ? (lr * (step + 1)) / warmupSteps : lr;
}

/** Global L2 norm of all gradients (float64 accumulation). */
export function globalNorm(grads: Iterable<Float32Array>): number {
  let s = 0;
  for (const g of grads) for (let i = 0; i < g.length; i++) s += g[i] * g[i];
  return Math.sqrt(s);
}

/**
 * Scales every gradient in place so the global norm is at most `maxNorm` (as PyTorch's
 * clip_grad_norm_: coefficient maxNorm / (norm + 1e-6), capped at 1). Returns the norm before
 * clipping. A non-finite norm is an error: the step would destroy the weights.
 */
export function clipGlobalNorm(grads: Float32Array[], maxNorm: number): number {
  const norm = globalNorm(grads);
  if (!Number.isFinite(norm)) throw new Error(`gradient norm is ${norm}: the loss diverged or produced NaN`);
  const coef = maxNorm / (norm + 1e-6);
  if (coef < 1) for (const g of grads) for (let i = 0; i < g.length; i++) g[i] *= coef;
  return norm;
}

/** ema <- decay * ema + (1 - decay) * value, in place. */
export function emaUpdate(ema: Float32Array, value: Float32Array, decay: number): void {
  for (let i = 0; i < ema.length; i++) ema[i] = decay * ema[i] + (1 - decay) * value[i];
}
