/**
 * Finds and compiles the kernel module. One source, two builds: the relaxed-SIMD build (fused
 * multiply-add) when this runtime validates it, else plain SIMD. Node 20 has relaxed SIMD behind a
 * V8 flag, which must be set before the first compile.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import v8 from 'node:v8';
import { WA, type WasmModule } from './wasm-api.js';

export interface LoadedModule {
  readonly module: WasmModule;
  readonly relaxed: boolean;
  readonly file: string;
}

/** build/wasm in the package root, found from src/backends/wasm (tsx) or dist/src/backends/wasm. */
function buildDir(): string | undefined {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const cand = join(dir, 'build', 'wasm');
    if (existsSync(join(cand, 'kernels.wasm'))) return cand;
    dir = dirname(dir);
  }
  return undefined;
}

/**
 * The compiled module, or a string saying why there is none. `relaxed: false` forces plain SIMD;
 * `dir` overrides where the .wasm files are looked for (default: build/wasm of this package).
 */
export function loadKernelModule(opts: { relaxed?: boolean; dir?: string } = {}): LoadedModule | string {
  if (!WA) return 'this runtime has no WebAssembly';
  const dir = opts.dir ?? buildDir();
  if (!dir || !existsSync(join(dir, 'kernels.wasm')))
    return `${dir ? join(dir, 'kernels.wasm') : 'build/wasm/kernels.wasm'} not found (run npm run build)`;
  try {
    v8.setFlagsFromString('--experimental-wasm-relaxed-simd');
  } catch {
    // Flags are a Node/V8 detail; other runtimes either have relaxed SIMD or validate() says no.
  }
  const relaxedFile = join(dir, 'kernels-relaxed.wasm');
  if (opts.relaxed !== false && existsSync(relaxedFile)) {
    const bytes = readFileSync(relaxedFile);
    if (WA.validate(bytes)) return { module: new WA.Module(bytes), relaxed: true, file: relaxedFile };
  }
  const plainFile = join(dir, 'kernels.wasm');
  const bytes = readFileSync(plainFile);
  if (!WA.validate(bytes)) return 'this runtime does not support WebAssembly SIMD';
  return { module: new WA.Module(bytes), relaxed: false, file: plainFile };
}
