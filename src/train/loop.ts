/**
 * The generic training loop: micro-batches -> gradients (accumulated) -> clip -> AdamW with a
 * warm-up-then-constant LR -> EMA -> periodic atomic checkpoints; resumable exactly.
 *
 * Exact resume needs the run to be a function of (step, RNG state) only: `nextBatch(step, micro)`
 * must depend on nothing else, all randomness of `lossFn` must come from the `rng` it is given
 * (its {seed, offset} is saved in every checkpoint), and the LR `schedule` must depend on the step
 * alone (a time limit stops the run; it never bends the schedule). Each micro-step runs inside
 * `tidy`, so memory stays flat whatever the number of steps. Every recipe (DiT, VAE, probes) runs
 * on this loop.
 */

import { writeFileAtomic } from '../io/atomic-file.js';
import type { ParamTree } from '../nn/params.js';
import { namedTensors } from '../nn/params-file.js';
import { gradients } from '../tensor/autodiff.js';
import { Rng } from '../tensor/random.js';
import { type Tensor, tidy } from '../tensor/tensor.js';
import { ADAMW_DEFAULTS, type AdamWConfig, adamwUpdate, initAdamW, validateAdamW } from './adamw.js';
import {
  findCheckpoint,
  loadCheckpoint,
  saveCheckpoint,
  type TrainHyper,
  type TrainState,
} from './checkpoint.js';
import { formatProgress, type ProgressInfo, type ProgressMode } from './progress.js';
import { clipGlobalNorm, emaUpdate, globalNorm, warmupConstant } from './schedule.js';

export interface TrainLoopOptions<B> {
  readonly params: ParamTree;
  /**
   * Scalar loss of one micro-batch, optionally with named numbers to report (averaged over the
   * micro-batches into ProgressInfo.metrics). `step` is the optimizer step (0-based).
   */
  readonly lossFn: (batch: B, step: number, rng: Rng) => Tensor | LossWithMetrics;
  /** The micro-batch `micro` (0..accumulate-1) of optimizer step `step`; must be deterministic. */
  readonly nextBatch: (step: number, micro: number) => B;
  /** Optimizer steps to reach (a resumed run continues from its checkpoint's step up to this). */
  readonly steps: number;
  readonly adamw?: Partial<AdamWConfig>;
  readonly warmupSteps?: number;
  /** LR of optimizer step `step`; default: linear warm-up over `warmupSteps`, then `adamw.lr`. */
  readonly schedule?: (step: number) => number;
  /** Stop (with a checkpoint) before a step that would start after this many minutes of this run. */
  readonly maxMinutes?: number;
  /** Stop (with a checkpoint) before the next step once this is aborted (e.g. on SIGINT). */
  readonly signal?: AbortSignal;
  /** Clip gradients to this global L2 norm; 0 or absent = no clipping. */
  readonly maxGradNorm?: number;
  /** Keep an EMA of the weights with this decay. */
  readonly emaDecay?: number;
  /** Micro-batches per optimizer step (gradients averaged). */
  readonly accumulate?: number;
  /** Seed of the RNG handed to `lossFn`. */
  readonly seed?: number;
  readonly checkpoint?: {
    readonly dir: string;
    /** Save every this many steps (and always at the end); 0 = only at the end. */
    readonly every?: number;
    /** Saved in state.json (for example the model preset), JSON-serialisable; a resumed run keeps the checkpoint's when absent. */
    readonly config?: unknown;
    /** Continue from the checkpoint in `dir` when there is one. */
    readonly resume?: boolean;
    /**
     * Text files (by name) to write into each checkpoint with the rest, given the step saved: part
     * of the atomic swap, so they always match the checkpoint's step (a recipe's run history).
     */
    readonly files?: (step: number) => Readonly<Record<string, string>>;
  };
  /** Progress on stderr: text lines, JSON lines, or nothing. Default 'text'. */
  readonly progress?: ProgressMode;
  /** Seconds between progress lines (default 2; the last step is always reported). */
  readonly progressEvery?: number;
  /** Where progress lines go (default: stderr). */
  readonly log?: (line: string) => void;
  readonly onStep?: (info: ProgressInfo) => void;
  /** Writes a JSON summary of the run here at the end (atomically): timing, losses, settings. */
  readonly reportFile?: string;
  /**
   * Train only these parameters (by name), and of each only the entries marked 1 (its length the
   * parameter's size): every other value stays exactly as it is, with no update and no decay,
   * and their gradients count in no clipping norm. Absent: everything trains.
   */
  readonly trainOnly?: ReadonlyMap<string, Uint8Array>;
}

export interface LossWithMetrics {
  readonly loss: Tensor;
  readonly metrics: Readonly<Record<string, number>>;
}

export interface TrainResult {
  /** Optimizer steps done in total (including those before a resume). */
  readonly step: number;
  /** Mean micro-batch loss of each step run by this call. */
  readonly losses: number[];
  readonly state: TrainState;
  readonly hyper: TrainHyper;
  readonly seconds: number;
  /** The step this call started from (0, or the resumed checkpoint's). */
  readonly resumedFrom: number;
  /** Why the run ended: `steps` reached, `maxMinutes` passed, or `signal` aborted. */
  readonly stopped: 'steps' | 'time' | 'signal';
}

export function resolveHyper<B>(o: TrainLoopOptions<B>): TrainHyper {
  const adamw = { ...ADAMW_DEFAULTS, ...o.adamw };
  validateAdamW(adamw);
  const accumulate = o.accumulate ?? 1;
  if (!Number.isInteger(accumulate) || accumulate < 1)
    throw new Error(`accumulate must be an integer >= 1, got ${accumulate}`);
  const maxGradNorm = o.maxGradNorm ?? 0;
  if (!(maxGradNorm >= 0)) throw new Error(`maxGradNorm must be >= 0, got ${maxGradNorm}`);
  const emaDecay = o.emaDecay ?? null;
  if (emaDecay !== null && !(emaDecay >= 0 && emaDecay < 1))
    throw new Error(`emaDecay must be in [0, 1), got ${emaDecay}`);
  const warmupSteps = o.warmupSteps ?? 0;
  if (!Number.isInteger(warmupSteps) || warmupSteps < 0)
    throw new Error(`warmupSteps must be an integer >= 0, got ${warmupSteps}`);
  return { adamw, warmupSteps, maxGradNorm, emaDecay, accumulate };
}

/** Fresh optimizer/EMA state for the float parameters of `params`. */
export function initTrainState(params: ParamTree, hyper: TrainHyper, seed = 0): TrainState {
  const float = namedTensors(params).filter(([, t]) => t.dtype === 'float32');
  return {
    step: 0,
    rng: { seed, offset: 0 },
    opt: initAdamW(float.map(([n, t]) => [n, t.size])),
    ema: hyper.emaDecay === null ? null : new Map(float.map(([n, t]) => [n, t.dataSync() as Float32Array])),
  };
}

/**
 * One optimizer step: runs `accumulate` micro-batches, updates the parameters in place, returns
 * the mean loss and the gradient norm before clipping.
 */
export function trainStep<B>(
  o: Pick<TrainLoopOptions<B>, 'params' | 'lossFn' | 'nextBatch' | 'schedule' | 'trainOnly'>,
  state: TrainState,
  hyper: TrainHyper,
): { loss: number; gradNorm: number; lr: number; metrics?: Record<string, number> } {
  const named = namedTensors(o.params).filter(([, t]) => t.dtype === 'float32');
  const tensors = named.map(([, t]) => t);
  const only = o.trainOnly;
  // a frozen tensor requires no gradient, so backward never computes its weight gradients
  for (const [name, t] of named) t.requiresGrad = !only || only.has(name);
  const acc = named.map(([, t]) => new Float32Array(t.size));
  const seen = named.map(() => false);
  const rng = new Rng(state.rng.seed, state.rng.offset);
  const scale = 1 / hyper.accumulate;
  let loss = 0;
  let metrics: Record<string, number> | undefined;
  for (let micro = 0; micro < hyper.accumulate; micro++) {
    const batch = o.nextBatch(state.step, micro);
    tidy(() => {
      const out = o.lossFn(batch, state.step, rng);
      const l = 'metrics' in out ? out.loss : out;
      if ('metrics' in out) {
        metrics ??= {};
        for (const [k, v] of Object.entries(out.metrics)) metrics[k] = (metrics[k] ?? 0) + v * scale;
      }
      if (l.size !== 1) throw new Error(`lossFn must return a scalar, got shape [${l.shape.join(', ')}]`);
      const gs = gradients(l, tensors);
      gs.forEach((g, i) => {
        if (!g) return;
        seen[i] = true;
        const d = g.dataSync();
        const a = acc[i];
        for (let j = 0; j < a.length; j++) a[j] += d[j] * scale;
      });
      loss += l.item() * scale;
    });
  }
  state.rng = rng.state();
  if (!Number.isFinite(loss)) throw new Error(`loss is ${loss} at step ${state.step}`);
  if (only)
    named.forEach(([name], i) => {
      const mask = only.get(name);
      if (!mask) return;
      if (mask.length !== acc[i].length)
        throw new Error(`trainOnly: ${name} has ${acc[i].length} values, its mask ${mask.length}`);
      for (let j = 0; j < mask.length; j++) if (!mask[j]) acc[i][j] = 0;
    });
  const used = acc.filter((_, i) => seen[i]);
  const gradNorm = hyper.maxGradNorm > 0 ? clipGlobalNorm(used, hyper.maxGradNorm) : globalNorm(used);
  const lr = o.schedule
    ? o.schedule(state.step)
    : warmupConstant(hyper.adamw.lr, hyper.warmupSteps, state.step);
  state.opt.t++;
  named.forEach(([name, t], i) => {
    // like PyTorch, a parameter the loss does not reach is left untouched (no decay either)
    if (!seen[i]) return;
    const value = t.dataSync() as Float32Array;
    const mask = only?.get(name);
    const kept = mask && value.slice();
    adamwUpdate(state.opt, hyper.adamw, lr, name, value, acc[i]);
    if (mask && kept) for (let j = 0; j < mask.length; j++) if (!mask[j]) value[j] = kept[j];
    t.backend.write(t.storage, value);
    if (state.ema) emaUpdate(state.ema.get(name)!, value, hyper.emaDecay!);
  });
  state.step++;
  return { loss, gradNorm, lr, ...(metrics ? { metrics } : {}) };
}

/** Runs (or resumes) training up to `o.steps` optimizer steps. */
export function trainLoop<B>(o: TrainLoopOptions<B>): TrainResult {
  return runToEnd(trainSteps(o));
}

/**
 * `trainLoop` as a generator that yields after every optimizer step (its checkpoint, if one was
 * due, written), so a caller can let the event loop turn between steps: `runYielding` does, and
 * that is what lets a SIGINT handler abort `signal` while a CLI trains (JS signal handlers run only
 * between event-loop turns).
 */
export function* trainSteps<B>(o: TrainLoopOptions<B>): Generator<void, TrainResult, void> {
  const hyper = resolveHyper(o);
  const names = new Set(namedTensors(o.params).map(([n]) => n));
  for (const name of o.trainOnly?.keys() ?? [])
    if (!names.has(name)) throw new Error(`trainOnly: no parameter named ${name}`);
  const state = initTrainState(o.params, hyper, o.seed ?? 0);
  const ck = o.checkpoint;
  const log = o.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const mode = o.progress ?? 'text';
  let config: unknown = ck?.config ?? null;
  if (ck?.resume && findCheckpoint(ck.dir)) {
    const j = loadCheckpoint(ck.dir, o.params, state);
    if (ck.config === undefined) config = j.config;
    const was = { ...j.optimizer, t: undefined, ...j.hyper };
    const now = {
      ...hyper.adamw,
      t: undefined,
      warmupSteps: hyper.warmupSteps,
      maxGradNorm: hyper.maxGradNorm,
      emaDecay: hyper.emaDecay,
      accumulate: hyper.accumulate,
    };
    const changed = Object.keys(now).filter(
      (k) => (was as Record<string, unknown>)[k] !== (now as Record<string, unknown>)[k],
    );
    if (changed.length && mode !== 'none')
      log(
        `resuming ${ck.dir} at step ${j.step} with changed hyper-parameters: ${changed.map((k) => `${k} ${(was as Record<string, unknown>)[k]} -> ${(now as Record<string, unknown>)[k]}`).join(', ')}`,
      );
  }
  const resumedFrom = state.step;
  const every = ck?.every ?? 0;
  const losses: number[] = [];
  const t0 = performance.now();
  let lastReport = -Infinity;
  let saved = state.step;
  let stopped: TrainResult['stopped'] = 'steps';
  while (state.step < o.steps) {
    if (o.maxMinutes !== undefined && performance.now() - t0 >= o.maxMinutes * 60000) stopped = 'time';
    if (o.signal?.aborted) stopped = 'signal';
    if (stopped !== 'steps') {
      if (mode !== 'none') log(`stopped (${stopped}) at step ${state.step} of ${o.steps}`);
      break;
    }
    const { loss, gradNorm, lr, metrics } = trainStep(o, state, hyper);
    losses.push(loss);
    const now = performance.now();
    const rate = (state.step - resumedFrom) / Math.max((now - t0) / 1000, 1e-9);
    const info: ProgressInfo = {
      step: state.step,
      steps: o.steps,
      loss,
      lr,
      gradNorm,
      rate,
      eta: (o.steps - state.step) / rate,
      ...(metrics ? { metrics } : {}),
    };
    o.onStep?.(info);
    if (mode !== 'none' && (now - lastReport >= (o.progressEvery ?? 2) * 1000 || state.step === o.steps)) {
      log(formatProgress(info, mode));
      lastReport = now;
    }
    if (ck && ((every > 0 && state.step % every === 0) || state.step === o.steps)) {
      saveCheckpoint(ck.dir, o.params, state, hyper, config, ck.files?.(state.step));
      saved = state.step;
    }
    yield;
  }
  if (ck && saved !== state.step)
    saveCheckpoint(ck.dir, o.params, state, hyper, config, ck.files?.(state.step));
  const seconds = (performance.now() - t0) / 1000;
  const summary = {
    event: 'done',
    step: state.step,
    steps: o.steps,
    resumedFrom,
    seconds,
    stepsPerSecond: (state.step - resumedFrom) / Math.max(seconds, 1e-9),
    firstLoss: losses[0] ?? null,
    finalLoss: losses.at(-1) ?? null,
  };
  if (mode === 'json') log(JSON.stringify(summary));
  if (o.reportFile)
    writeFileAtomic(
      o.reportFile,
      `${JSON.stringify({ ...summary, hyper, seed: state.rng.seed, losses }, null, 2)}\n`,
    );
  return { step: state.step, losses, state, hyper, seconds, resumedFrom, stopped };
}

/** Drives a generator of `trainSteps` (or one that `yield*`s it) to its end without yielding. */
export function runToEnd<T>(g: Generator<unknown, T, void>): T {
  for (;;) {
    const r = g.next();
    if (r.done) return r.value;
  }
}

/** Drives the generator to its end, letting the event loop turn (signals, timers) at every yield. */
export async function runYielding<T>(g: Generator<unknown, T, void>): Promise<T> {
  for (;;) {
    const r = g.next();
    if (r.done) return r.value;
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}
