/**
 * `npm run bench -- cost [--preset NAME] [--json FILE]`: the analytic cost model (no timing) for
 * Wan2.1-1.3B at the MoGA paper's Table 5 sizes (480x832, 16 fps), full attention vs MoGA M = 5,
 * beside the paper's figures. See src/models/cost.ts for the FLOP convention.
 */
import { parseArgs } from 'node:util';
import { ditCost, tokenGrid } from '../src/models/cost.js';
import { ditPreset, FULL_ATTENTION, MOGA_ATTENTION } from '../src/models/presets.js';
import { maybeWriteJson, printTable, type Row } from './lib/measure.js';

/** Table 5 of the paper (PFLOPs), Wan2.1-1.3B. */
const PAPER: Record<string, Record<number, number>> = {
  full: { 5: 0.28, 10: 0.88, 30: 6.94 },
  'moga M=5': { 30: 2.26 },
};

export default async function cost(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: { preset: { type: 'string', default: 'wan2.1-1.3b' }, json: { type: 'string' } },
  });
  const cfg = ditPreset(values.preset!);
  const rows: Row[] = [];
  for (const seconds of [5, 10, 30, 60]) {
    const video = { frames: seconds * 16, height: 480, width: 832 };
    const f = tokenGrid(cfg, video).f;
    // 2x2 spatial windows x 4 temporal groups: the reading that reproduces the paper (cost.ts)
    const moga = { ...MOGA_ATTENTION, temporalGroup: Math.max(1, Math.floor(f / 4)) };
    for (const [variant, attention] of [
      ['full', FULL_ATTENTION],
      ['moga M=5', moga],
    ] as const) {
      const c = ditCost(cfg, video, { attention });
      const paper = PAPER[variant][seconds];
      const pf = c.flops.total / 1e15;
      rows.push({
        seconds,
        tokens: c.tokens,
        variant,
        'attn PF': c.flops.attention / 1e15,
        'rest PF': c.flops.rest / 1e15,
        'total PF': pf,
        density: c.density,
        paper: paper ?? '',
        'vs paper': paper ? `${(((pf - paper) / paper) * 100).toFixed(1)}%` : '',
      });
    }
  }
  const params = ditCost(cfg, { frames: 1, height: 480, width: 832 }).params;
  printTable(
    `${values.preset}: forward FLOPs per sample at 480x832, 16 fps (${(params / 1e9).toFixed(3)}B parameters; 2 FLOPs/MAC, text 512)`,
    rows,
  );
  maybeWriteJson(argv, 'cost', rows, { preset: values.preset, params });
}
