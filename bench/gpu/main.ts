/**
 * GPU bench entry (bundled to one .mjs by run.sh): opens the driver, checks every kernel against
 * CPU references, then times grouped attention at 578k tokens and writes moga.json to the output
 * folder. Environment: OUT (results), MOGA_CUDA_KERNELS (fatbins), BENCH_N, BENCH_BUDGET_S.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openCudaDriver } from '../../src/backends/cuda/driver.js';
import { attachCublasLt } from '../../src/backends/cuda/index.js';
import { createCudaContext, findKernelDir } from '../../src/backends/cuda/kernels.js';
import { runChecks } from './checks.js';
import { runTiming } from './timing.js';

const out = process.env.OUT ?? 'out';
mkdirSync(out, { recursive: true });
const lines: string[] = [];
const log = (s: string) => {
  console.log(s);
  lines.push(s);
};
const driver = openCudaDriver();
if (typeof driver === 'string') {
  console.error(`no CUDA: ${driver}`);
  process.exit(2);
}
const dir = findKernelDir();
if (!dir) throw new Error('no build/cuda/*.fatbin: run `node scripts/build.mjs cuda`');
const ctx = createCudaContext(driver, dir);
if (!process.env.BENCH_NO_CUBLAS) attachCublasLt(ctx);
const info = driver.info();
log(
  `device: ${info.name}, ${info.multiprocessors} SMs, cc ${info.computeCapability.join('.')}, CUDA driver API ${info.driverVersion}`,
);
const seed = Number(process.env.BENCH_SEED ?? Date.now() % 1e9);
log(`checks (seed ${seed}):`);
const t0 = Date.now();
const checks = runChecks(ctx, seed, log);
log(
  `checks: ${checks.filter((c) => c.pass).length}/${checks.length} pass (${((Date.now() - t0) / 1000).toFixed(1)} s)`,
);
const n = Number(process.env.BENCH_N ?? 578000);
const budgetS = Number(process.env.BENCH_BUDGET_S ?? 150);
const save = (timing: unknown[]) => {
  writeFileSync(
    join(out, 'moga.json'),
    JSON.stringify({ info, seed, n, h: 12, d: 128, checks, timing }, null, 1),
  );
  writeFileSync(join(out, 'moga.log'), `${lines.join('\n')}\n`);
};
save([]);
try {
  if (!process.env.BENCH_SKIP_TIMING) {
    const planDir = process.env.PLAN_DIR ?? '/tmp/moga-plans';
    mkdirSync(planDir, { recursive: true });
    save(runTiming(ctx, { n, h: 12, d: 128, ms: [1, 5, 20], seed, budgetS, planDir }, log));
  }
} catch (e) {
  log(`timing failed: ${(e as Error).stack}`);
  save([]);
  process.exitCode = 1;
}
if (checks.some((c) => !c.pass)) process.exitCode = 1;
