/**
 * The job's report.json as tables: what it was (story, size, frames, latent grid, model, backend,
 * steps, seed, guidance), the time per stage, and anything else the report holds, shown as it is.
 */
import { fill, h, seconds } from './dom.js';
import type { Report } from './types.js';

function value(v: unknown): string {
  if (typeof v === 'number') return Number.isInteger(v) ? v.toLocaleString('en') : String(+v.toFixed(4));
  if (typeof v === 'string') return v;
  return JSON.stringify(v);
}

export function report(root: HTMLElement, r: Report): void {
  const timings = (r.timings ?? {}) as Record<string, number>;
  const total = timings.total ?? Object.values(timings).reduce((a, b) => a + b, 0);
  const rows = Object.entries(r).filter(([k]) => k !== 'timings');
  fill(
    root,
    h('h3', {}, 'Report'),
    h(
      'table',
      { class: 'timings', 'data-testid': 'timings' },
      h('tr', {}, h('th', {}, 'stage'), h('th', {}, 'time'), h('th', {}, 'share')),
      Object.entries(timings).map(([stage, s]) =>
        h(
          'tr',
          {},
          h('td', {}, stage),
          h('td', {}, seconds(s)),
          h('td', {}, stage === 'total' || !total ? '' : `${Math.round((100 * s) / total)} %`),
        ),
      ),
    ),
    h(
      'table',
      { class: 'report', 'data-testid': 'report' },
      rows.map(([k, v]) => h('tr', {}, h('th', {}, k), h('td', {}, value(v)))),
    ),
  );
}
