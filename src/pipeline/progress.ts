/** Progress of a long pipeline run: stage, step of steps, rate and ETA, as data and as a bar. */

export type Stage = 'load' | 'text' | 'sample' | 'decode' | 'encode' | 'train' | 'render';

export interface ProgressEvent {
  readonly stage: Stage;
  /** Units done in this stage (sampler steps, frames, ...) and the total. */
  readonly done: number;
  readonly total: number;
  readonly unit: string;
  /** Units per second in this stage so far; seconds left at that rate. */
  readonly rate: number;
  readonly eta: number;
  /** Seconds since the stage began. */
  readonly elapsed: number;
}

/** Turns "done n of total" calls into events with rate and ETA (one tracker per stage). */
export function stageTracker(
  stage: Stage,
  total: number,
  unit: string,
  emit: ((e: ProgressEvent) => void) | undefined,
): (done: number) => ProgressEvent {
  const t0 = performance.now();
  return (done) => {
    const elapsed = (performance.now() - t0) / 1000;
    const rate = done / Math.max(elapsed, 1e-9);
    const e: ProgressEvent = {
      stage,
      done,
      total,
      unit,
      rate,
      eta: done > 0 ? (total - done) / rate : Number.POSITIVE_INFINITY,
      elapsed,
    };
    emit?.(e);
    return e;
  };
}

export function formatDuration(s: number): string {
  if (!Number.isFinite(s)) return '--';
  if (s < 60) return `${s.toFixed(0)}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(Math.floor(s % 60)).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/** One line: `sample  [#######.......]  3/8 steps  0.42 steps/s  ETA 12s`. */
export function progressBar(e: ProgressEvent, width = 24): string {
  const frac = e.total > 0 ? Math.min(1, e.done / e.total) : 1;
  const fill = Math.round(frac * width);
  const rate = e.rate >= 10 ? e.rate.toFixed(0) : e.rate >= 1 ? e.rate.toFixed(1) : e.rate.toFixed(2);
  const tail = e.done >= e.total ? `done in ${formatDuration(e.elapsed)}` : `ETA ${formatDuration(e.eta)}`;
  return `${e.stage.padEnd(7)} [${'#'.repeat(fill)}${'.'.repeat(width - fill)}] ${e.done}/${e.total} ${e.unit}  ${rate} ${e.unit}/s  ${tail}`;
}
