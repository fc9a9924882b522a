// The build: WebAssembly kernels (AssemblyScript), native CPU kernels (a C compiler, when present),
// CUDA kernels (nvcc, when present), TypeScript.
// Each step says what it did in one line; a missing optional tool is reported, never fatal.
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
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
  const headers = Math.max(
    0,
    ...files.filter((f) => f.endsWith('.cuh')).map((f) => statSync(join(dir, f)).mtimeMs),
  );
  let built = 0;
  for (const f of sources) {
    const out = join('build/cuda', f.replace(/\.cu$/, '.fatbin'));
    if (existsSync(out) && statSync(out).mtimeMs > Math.max(headers, statSync(join(dir, f)).mtimeMs))
      continue;
    run('nvcc', [
      '-fatbin',
      '-O3',
      '-std=c++17',
      '-gencode',
      'arch=compute_90a,code=sm_90a',
      '-gencode',
      'arch=compute_80,code=compute_80',
      '-o',
      out,
      join(dir, f),
    ]);
    built++;
  }
  console.log(`build: cuda  ${sources.length} kernel file(s) -> build/cuda/*.fatbin (${built} rebuilt)`);
}

// Native CPU kernels: one shared library holding every ISA build of kernels.c (generic, AVX2+FMA,
// AVX-512 where the compiler has it), chosen at run time from the CPU's features; never
// -march=native, so the library still runs when the build moves to another x86-64 machine.
// A library newer than every C source is kept. No compiler: reported, and wasm/ref are used.
function buildNative() {
  const dir = 'src/backends/native/c';
  const out = 'build/native/libmoga.so';
  const cc = process.env.CC || ['cc', 'gcc', 'clang'].find(has);
  if (!cc || !has(cc))
    return console.log('build: native skipped: no C compiler (cc/gcc/clang) found (wasm and ref still work)');
  const files = readdirSync(dir).map((f) => join(dir, f));
  const newest = Math.max(...files.map((f) => statSync(f).mtimeMs));
  if (existsSync(out) && statSync(out).mtimeMs > newest)
    return console.log(`build: native ${out} (up to date)`);
  mkdirSync('build/native/obj', { recursive: true });
  const ok = (args) => spawnSync(cc, args, { stdio: 'ignore' }).status === 0;
  const base = ['-O3', '-std=gnu11', '-fPIC', '-fno-math-errno', '-Wall', '-c'];
  const x86 = spawnSync(cc, ['-dumpmachine'], { encoding: 'utf8' }).stdout.startsWith('x86_64');
  const avx512Flags = ['-mavx512f', '-mavx512dq', '-mavx2', '-mfma'];
  const variants = [['GENERIC', []]];
  if (x86) variants.push(['AVX2', ['-mavx2', '-mfma']]);
  // The compiler may predate AVX-512: probe with an empty compile.
  const avx512 = x86 && ok([...avx512Flags, '-x', 'c', '-c', '/dev/null', '-o', '/dev/null']);
  if (avx512) variants.push(['AVX512', avx512Flags]);
  const objs = [];
  for (const [isa, flags] of variants) {
    const o = `build/native/obj/kernels-${isa.toLowerCase()}.o`;
    run(cc, [...base, ...flags, `-DMOGA_ISA_${isa}`, join(dir, 'kernels.c'), '-o', o]);
    objs.push(o);
  }
  const defs = avx512 ? ['-DMOGA_HAVE_AVX512'] : [];
  run(cc, [...base, ...defs, join(dir, 'pool.c'), '-o', 'build/native/obj/pool.o']);
  run(cc, ['-shared', '-o', out, 'build/native/obj/pool.o', ...objs, '-lpthread', '-lm']);
  console.log(`build: native ${out} (${variants.map((v) => v[0].toLowerCase()).join(', ')})`);
}

function buildTs() {
  run(process.execPath, ['node_modules/typescript/bin/tsc', '-p', '.']);
  console.log('build: ts    dist/');
}

// The studio page that `moga serve` serves at / (studio/): typechecked with its own tsconfig (DOM,
// no Node), bundled by esbuild into one ES module, and copied with its HTML and CSS into
// dist/studio/, which ships in the package. Nothing is fetched when the page runs.
async function buildStudio() {
  run(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'studio']);
  const { buildSync } = await import('esbuild');
  rmSync('dist/studio', { recursive: true, force: true });
  mkdirSync('dist/studio', { recursive: true });
  buildSync({
    entryPoints: ['studio/src/main.ts'],
    bundle: true,
    format: 'esm',
    target: 'es2022',
    minify: true,
    sourcemap: true,
    outfile: 'dist/studio/studio.js',
    logLevel: 'warning',
  });
  for (const f of ['index.html', 'style.css']) copyFileSync(join('studio', f), join('dist/studio', f));
  console.log('build: studio dist/studio/ (index.html, studio.js, style.css)');
}

// `node scripts/build.mjs [step ...]`: the named steps, or all of them (npm test builds all: the ts
// step is its typecheck, and the package test installs the compiled dist/).
const STEPS = { wasm: buildWasm, native: buildNative, cuda: buildCuda, ts: buildTs, studio: buildStudio };
const asked = process.argv.slice(2);
for (const s of asked)
  if (!(s in STEPS)) {
    console.error(`build: unknown step '${s}' (steps: ${Object.keys(STEPS).join(', ')})`);
    process.exit(1);
  }
for (const [name, step] of Object.entries(STEPS))
  if (asked.length === 0 || asked.includes(name)) await step();
