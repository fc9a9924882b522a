/**
 * The sampler contract: a JSON-serialisable config and a pure step. A multistep solver needs the
 * previous data prediction, so `step` takes and returns it explicitly as `carry` (no hidden
 * counters); the loop that owns the schedule (sample.ts) threads it through.
 */
import type { Tensor } from '../tensor/tensor.js';
import { type DpmSolverConfig, dpmSolverStep } from './dpm-solver.js';
import { type EulerConfig, eulerStep } from './euler.js';

/** What a multistep solver remembers: the last data prediction x0_hat and its time. */
export interface Carry {
  readonly x0: Tensor;
  readonly t: number;
}

export interface StepResult {
  readonly x: Tensor;
  readonly carry?: Carry;
}

export type SamplerConfig = EulerConfig | DpmSolverConfig;

/** x at time t, the model's velocity v there -> x at tNext (< t). */
export function samplerStep(
  config: SamplerConfig,
  x: Tensor,
  v: Tensor,
  t: number,
  tNext: number,
  carry?: Carry,
): StepResult {
  if (!(tNext < t) || t > 1 || tNext < 0)
    throw new Error(`sampler step needs 1 >= t > tNext >= 0, got t=${t}, tNext=${tNext}`);
  switch (config.kind) {
    case 'euler':
      return eulerStep(x, v, t, tNext);
    case 'dpm-solver++':
      return dpmSolverStep(config, x, v, t, tNext, carry);
    default:
      throw new Error(`unknown sampler '${(config as { kind: string }).kind}' (known: euler, dpm-solver++)`);
  }
}
