/**
 * Timing as BENCHMARKS.md prescribes: variants interleaved (A B A B ...), warm-up first, median of
 * the repeats; one table printed; the same rows written as JSON with `--json FILE`.
 */
import { mkdirSync } from 'node:fs';
import os from 'node:os';
import { dirname } from 'node:path';
import { writeFileAtomic } from '../../src/io/atomic-file.js';

export interface Variant {
  name: string;
  /** Runs once; may return a promise. */
  fn: () => unknown;
}

/**
 * Median milliseconds of each variant, interleaved. `settleMs` pauses before each run: thread pools
 * spin for a while after a call (OpenBLAS's for about 2^28 cycles, ~0.1 s), and a variant started
 * while another library's threads still spin finds one core fewer.
 */
export async function timeInterleaved(
  variants: Variant[],
  repeats = 5,
  warmup = 1,
  settleMs = 200,
): Promise<number[]> {
  const times = variants.map(() => [] as number[]);
  for (let r = 0; r < warmup + repeats; r++)
    for (let v = 0; v < variants.length; v++) {
      if (settleMs > 0) await new Promise((ok) => setTimeout(ok, settleMs));
      const t0 = performance.now();
      await variants[v].fn();
      const dt = performance.now() - t0;
      if (r >= warmup) times[v].push(dt);
    }
  return times.map(median);
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export type Row = Record<string, string | number>;

/** Prints rows as an aligned table (numbers to 3 significant digits). */
export function printTable(title: string, rows: Row[]): void {
  if (rows.length === 0) return;
  const cols = Object.keys(rows[0]);
  const cell = (v: string | number | undefined) =>
    typeof v === 'number' ? (Number.isInteger(v) ? String(v) : v.toPrecision(3)) : (v ?? '');
  const widths = cols.map((c) => Math.max(c.length, ...rows.map((r) => cell(r[c]).length)));
  console.log(`\n${title}`);
  console.log(cols.map((c, i) => c.padStart(widths[i])).join('  '));
  for (const r of rows) console.log(cols.map((c, i) => cell(r[c]).padStart(widths[i])).join('  '));
}

/** The value after `--name` in argv, if any. */
export function arg(argv: string[], name: string): string | undefined {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
}

/** `uptime`'s 1, 5 and 15 minute load averages, for the record beside a timing. */
export function loadAverage(): string {
  return os
    .loadavg()
    .map((x) => x.toFixed(2))
    .join(', ');
}

export function machine(): string {
  const cpu = os.cpus()[0]?.model ?? 'unknown cpu';
  return `${cpu}, ${os.availableParallelism()} threads, node ${process.version}`;
}

/** Writes `{ bench, machine, date, rows }` atomically to `file` when `--json file` was given. */
export function maybeWriteJson(
  argv: string[],
  bench: string,
  rows: Row[],
  extra: Record<string, unknown> = {},
): void {
  const i = argv.indexOf('--json');
  if (i < 0) return;
  const file = argv[i + 1];
  if (!file) throw new Error('--json needs a file name');
  mkdirSync(dirname(file), { recursive: true });
  writeFileAtomic(
    file,
    JSON.stringify({ bench, machine: machine(), date: new Date().toISOString(), ...extra, rows }, null, 2),
  );
  console.log(`wrote ${file}`);
}
