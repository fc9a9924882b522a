/**
 * Merges moga.json (node bench) and torch.json (PyTorch baseline) into one table: prints it and
 * writes result.json and result.md to the output folder. Usage: report.mjs OUT [nvidia-smi line]
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Check } from './checks.js';
import type { TimingRow } from './timing.js';

const out = process.argv[2] ?? 'out';
const smi = process.argv[3] ?? '';
const moga = JSON.parse(readFileSync(join(out, 'moga.json'), 'utf8')) as {
  info: { name: string; driverVersion: number };
  n: number;
  h: number;
  d: number;
  checks: Check[];
  timing: TimingRow[];
  seed: number;
};
// biome-ignore lint/suspicious/noExplicitAny: loose JSON from python
const torch: any = existsSync(join(out, 'torch.json'))
  ? JSON.parse(readFileSync(join(out, 'torch.json'), 'utf8'))
  : {};
const { n, h, d } = moga;
const denseFlops = 4 * n * n * h * d;
const denseFwd: number | undefined = torch.dense?.fwd_ms_2
  ? Math.min(torch.dense.fwd_ms, torch.dense.fwd_ms_2)
  : torch.dense?.fwd_ms;
const denseBwd: number | undefined = torch.dense?.bwd_ms;
const tf = (flops: number, ms?: number) => (ms ? (flops / ms / 1e9).toFixed(0) : '-');
const f = (ms?: number) => (ms === undefined ? '-' : ms >= 100 ? ms.toFixed(0) : ms.toFixed(2));
const lines: string[] = [];
const p = (s = '') => lines.push(s);
p(`# moga grouped attention on ${moga.info.name}`);
p();
p(
  `N = ${n}, H = ${h}, D = ${d}, bf16, fp32 accumulation. Driver: ${smi || `CUDA API ${moga.info.driverVersion}`}. PyTorch ${torch.torch ?? '(not run)'}; varlen API: ${torch.varlen_api ?? '-'}.`,
);
p(`Checks: ${moga.checks.filter((c) => c.pass).length}/${moga.checks.length} pass (seed ${moga.seed}).`);
p();
p(
  '| M | groups | plan ms | moga fwd ms (w4 / w8) | moga TFLOP/s | torch varlen fwd ms | torch dense fwd ms | dense TFLOP/s | speed-up vs dense | moga bwd ms | torch varlen bwd ms | torch dense bwd ms |',
);
p('|---|---|---|---|---|---|---|---|---|---|---|---|');
for (const r of [...moga.timing].sort((a, b) => a.m - b.m)) {
  const best = Math.min(...Object.values(r.fwdMs));
  const vl = torch.varlen?.[String(r.m)] ?? {};
  const fw = Number.isFinite(best) ? best : undefined;
  p(
    `| ${r.m} | ${r.groupMin}..${r.groupMax} | ${f(r.planMs)} | ${f(r.fwdMs.w4)} / ${f(r.fwdMs.w8)} | ${tf(r.flops, fw)} | ${f(vl.fwd_ms)} | ${f(denseFwd)} | ${tf(denseFlops, denseFwd)} | ${fw && denseFwd ? `${(denseFwd / fw).toFixed(1)}x` : '-'} | ${f(r.bwdMs)} | ${f(vl.bwd_ms)} | ${f(denseBwd)} |`,
  );
}
p();
const row1 = moga.timing.find((r) => r.m === 1);
const row20 = moga.timing.find((r) => r.m === 20);
if (row1 && denseFwd) {
  const ratio = row1.flops / Math.min(...Object.values(row1.fwdMs)) / (denseFlops / denseFwd);
  p(
    `Target M=1 fwd >= 50% of dense flash TFLOP/s: ${(100 * ratio).toFixed(0)}% -> ${ratio >= 0.5 ? 'met' : 'NOT met'}`,
  );
}
if (row20 && denseFwd) {
  const sp = denseFwd / Math.min(...Object.values(row20.fwdMs));
  p(`Target M=20 >= 10x faster than dense: ${sp.toFixed(1)}x -> ${sp >= 10 ? 'met' : 'NOT met'}`);
}
const failed = moga.checks.filter((c) => !c.pass);
if (failed.length) p(`FAILED checks: ${failed.map((c) => c.name).join('; ')}`);
if (torch.notes?.length) p(`Notes: ${torch.notes.join('; ')}`);
const md = `${lines.join('\n')}\n`;
console.log(md);
writeFileSync(join(out, 'result.md'), md);
writeFileSync(join(out, 'result.json'), JSON.stringify({ smi, moga, torch }, null, 1));
