/**
 * AdamW (Loshchilov & Hutter: weight decay decoupled from the gradient), step for step as
 * PyTorch's `torch.optim.AdamW`:
 *   p <- p * (1 - lr * wd)
 *   m <- b1 m + (1 - b1) g;   v <- b2 v + (1 - b2) g^2
 *   p <- p - lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
 *
 * The update runs on host copies (parameters read back, updated in float64 arithmetic, written
 * to their storage in place), so it is deterministic on every backend and the moments are plain
 * Float32Arrays that a checkpoint saves as they are. A fused device kernel is a later hot spot.
 */

export interface AdamWConfig {
  readonly lr: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
}

export const ADAMW_DEFAULTS: AdamWConfig = Object.freeze({
  lr: 1e-3,
  beta1: 0.9,
  beta2: 0.999,
  eps: 1e-8,
  weightDecay: 0.01,
});

/** Moments per parameter name, and the number of updates taken (t). */
export interface AdamWState {
  t: number;
  readonly m: Map<string, Float32Array>;
  readonly v: Map<string, Float32Array>;
}

export function initAdamW(shapes: Iterable<[string, number]>): AdamWState {
  const m = new Map<string, Float32Array>();
  const v = new Map<string, Float32Array>();
  for (const [name, size] of shapes) {
    m.set(name, new Float32Array(size));
    v.set(name, new Float32Array(size));
  }
  return { t: 0, m, v };
}

export function validateAdamW(c: AdamWConfig): void {
  const bad = (k: string, why: string) => new Error(`AdamW: ${k} = ${c[k as keyof AdamWConfig]} ${why}`);
  if (!(c.lr >= 0)) throw bad('lr', 'must be >= 0');
  if (!(c.beta1 >= 0 && c.beta1 < 1)) throw bad('beta1', 'must be in [0, 1)');
  if (!(c.beta2 >= 0 && c.beta2 < 1)) throw bad('beta2', 'must be in [0, 1)');
  if (!(c.eps > 0)) throw bad('eps', 'must be > 0');
  if (!(c.weightDecay >= 0)) throw bad('weightDecay', 'must be >= 0');
}

/**
 * One AdamW update of `value` (in place) with gradient `grad` for parameter `name`. Call
 * `state.t++` once per optimizer step before updating the parameters of that step.
 */
export function adamwUpdate(
  state: AdamWState,
  c: AdamWConfig,
  lr: number,
  name: string,
  value: Float32Array,
  grad: Float32Array,
): void {
  const m = state.m.get(name);
  const v = state.v.get(name);
  if (!m || !v) throw new Error(`AdamW: no moments for parameter '${name}'`);
  if (m.length !== value.length || grad.length !== value.length)
    throw new Error(
      `AdamW: parameter '${name}' has ${value.length} elements, gradient ${grad.length}, moments ${m.length}`,
    );
  if (state.t < 1) throw new Error('AdamW: state.t must be incremented before the first update');
  const { beta1: b1, beta2: b2, eps } = c;
  const decay = 1 - lr * c.weightDecay;
  const bc1 = 1 - b1 ** state.t;
  const sqrtBc2 = Math.sqrt(1 - b2 ** state.t);
  const stepSize = lr / bc1;
  for (let i = 0; i < value.length; i++) {
    const g = grad[i];
    const mi = b1 * m[i] + (1 - b1) * g;
    const vi = b2 * v[i] + (1 - b2) * g * g;
    m[i] = mi;
    v[i] = vi;
    value[i] = value[i] * decay - (stepSize * m[i]) / (Math.sqrt(v[i]) / sqrtBc2 + eps);
  }
}
