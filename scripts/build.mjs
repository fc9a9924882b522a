// The build: WebAssembly kernels (AssemblyScript), CUDA kernels (nvcc, when present), TypeScript.
// Each step says what it did in one line; a missing optional tool is reported, never fatal.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

function run(cmd, args) {
  const r = spawnSync(cmd, args, { stdio: 'inherit' });
  if (r.status !== 0) {
    console.error(`build: ${cmd} ${args.join(' ')} failed`);
    process.exit(r.status ?? 1);
  }
}

function has(cmd) {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

// WebAssembly: one source, two builds (plain SIMD, relaxed SIMD); the loader picks one at run time.
function buildWasm() {
  const entry = 'src/backends/wasm/assembly/index.ts';
  if (!existsSync(entry)) return console.log('build: wasm  (no kernels yet)');
  mkdirSync('build/wasm', { recursive: true });
  const asc = 'node_modules/assemblyscript/bin/asc.js';
  const common = [
    entry,
    '-O3',
    '--runtime',
    'stub',
    '--importMemory',
    '--sharedMemory',
    '--initialMemory',
    '64',
    '--maximumMemory',
    '65536',
    '--enable',
    'simd',
    '--enable',
    'threads',
    '--noAssert',
  ];
  run(process.execPath, [asc, ...common, '--outFile', 'build/wasm/kernels.wasm']);
  run(process.execPath, [
    asc,
    ...common,
    '--enable',
    'relaxed-simd',
    '--use',
    'RELAXED=1',
    '--outFile',
    'build/wasm/kernels-relaxed.wasm',
  ]);
  console.log('build: wasm  build/wasm/kernels.wasm, kernels-relaxed.wasm');
}

// CUDA: every .cu under the backend becomes a fatbin with sm_90a code plus portable PTX (compute_80)
// for other cards. A fatbin newer than its source and every header is kept (tests reuse it).
function buildCuda() {
  const dir = 'src/backends/cuda/kernels';
  const files = existsSync(dir) ? readdirSync(dir) : [];
  const sources = files.filter((f) => f.endsWith('.cu'));
  if (sources.length === 0) return console.log('build: cuda  (no kernels yet)');
  if (!has('nvcc')) return console.log('build: cuda  skipped: nvcc not found (the CPU backends still work)');
  mkdirSync('build/cuda', { recursive: true });
  const headers = Math.max(0, ...files.filter((f) => f.endsWith('.cuh')).map((f) => statSync(join(dir, f)).mtimeMs));
  let built = 0;
  for (const f of sources) {
    const out = join('build/cuda', f.replace(/\.cu$/, '.fatbin'));
    if (existsSync(out) && statSync(out).mtimeMs > Math.max(headers, statSync(join(dir, f)).mtimeMs)) continue;
    run('nvcc', ['-fatbin', '-O3', '-std=c++17', '-gencode', 'arch=compute_90a,code=sm_90a',
      '-gencode', 'arch=compute_80,code=compute_80', '-o', out, join(dir, f)]);
    built++;
  }
  console.log(`build: cuda  ${sources.length} kernel file(s) -> build/cuda/*.fatbin (${built} rebuilt)`);
}

function buildTs() {
  run(process.execPath, ['node_modules/typescript/bin/tsc', '-p', '.']);
  console.log('build: ts    dist/');
}

const only = process.argv[2];
if (!only || only === 'wasm') buildWasm();
if (!only || only === 'cuda') buildCuda();
if (!only || only === 'ts') buildTs();
