/** Progress lines for long loops: steps, rate, ETA as text, or one JSON object per line. */

export interface ProgressInfo {
  readonly step: number;
  readonly steps: number;
  readonly loss: number;
  readonly lr: number;
  readonly gradNorm: number;
  /** Optimizer steps per second since the loop started (this run). */
  readonly rate: number;
  /** Seconds left at the current rate. */
  readonly eta: number;
  /** What the loss function reported besides the loss (means over the step's micro-batches). */
  readonly metrics?: Readonly<Record<string, number>>;
}

export type ProgressMode = 'text' | 'json' | 'none';

export function formatSeconds(s: number): string {
  if (!Number.isFinite(s)) return '?';
  if (s < 60) return `${s.toFixed(0)}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(Math.round(s % 60)).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

export function formatProgress(p: ProgressInfo, mode: Exclude<ProgressMode, 'none'>): string {
  if (mode === 'json') return JSON.stringify({ event: 'step', ...p });
  const width = String(p.steps).length;
  return (
    `step ${String(p.step).padStart(width)}/${p.steps}  loss ${p.loss.toPrecision(4)}` +
    Object.entries(p.metrics ?? {})
      .map(([k, v]) => `  ${k} ${v.toPrecision(4)}`)
      .join('') +
    `  lr ${p.lr.toExponential(2)}` +
    `  |g| ${p.gradNorm.toPrecision(3)}  ${p.rate.toPrecision(3)} steps/s  ETA ${formatSeconds(p.eta)}`
  );
}
