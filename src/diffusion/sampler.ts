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

export const SAMPLERS: readonly SamplerConfig['kind'][] = ['euler', 'dpm-solver++'];

/** Refuses a sampler config a step could not run, naming the valid samplers (checked on load). */
export function checkSamplerConfig(config: SamplerConfig): void {
  const kind = (config as { kind?: unknown } | undefined)?.kind;
  if (!SAMPLERS.includes(kind as SamplerConfig['kind']))
    throw new Error(`unknown sampler ${JSON.stringify(kind)} (valid: ${SAMPLERS.join(', ')})`);
  if (config.kind === 'dpm-solver++' && config.order !== 1 && config.order !== 2)
    throw new Error(`dpm-solver++ order must be 1 or 2, got ${config.order}`);
}

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
      checkSamplerConfig(config);
      throw new Error('unreachable: checkSamplerConfig accepted an unknown sampler');
  }
}
