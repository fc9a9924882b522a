/**
 * Kernel modules: every build/cuda/*.fatbin loaded into a driver under its file name, and a cached
 * lookup of kernels by (module, name) that raises the dynamic shared-memory limit once per kernel.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BlasGemm } from './cublaslt.js';
import type { CuFunction, DevPtr, Driver, KernelArg, LaunchConfig } from './driver-types.js';

export interface CudaContext {
  readonly driver: Driver;
  /** cuBLASLt when found (see cublaslt.ts); the matmul op uses the gemm_f32 kernel otherwise. */
  gemm?: BlasGemm;
  /** Why there is no `gemm`, when there is none. */
  gemmMissing?: string;
  /** The kernel `name` of module `module` (file name without .fatbin). */
  kernel(module: string, name: string, sharedBytes?: number): CuFunction;
  launch(module: string, name: string, cfg: LaunchConfig, args: readonly KernelArg[]): void;
  /** Scratch allocation freed with `release` (plain bookkeeping over driver.alloc/free). */
  temp(bytes: number): DevPtr;
  release(p: DevPtr): void;
  /** Bytes of `temp` not yet released (scratch and device plans; the backend's liveBytes adds them). */
  tempBytes(): number;
}

/** Where `npm run build` puts the fatbins, seen from src/ (tsx) or dist/src/ (compiled). */
export function findKernelDir(): string | undefined {
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [
    process.env.MOGA_CUDA_KERNELS,
    resolve(here, '../../../build/cuda'),
    resolve(here, '../../../../build/cuda'),
    resolve('build/cuda'),
  ];
  return candidates.find(
    (d) => d !== undefined && existsSync(d) && readdirSync(d).some((f) => f.endsWith('.fatbin')),
  );
}

/** Loads every fatbin of `dir` (or the images given) into the driver. */
export function createCudaContext(driver: Driver, images: Record<string, Uint8Array> | string): CudaContext {
  const files =
    typeof images === 'string'
      ? Object.fromEntries(
          readdirSync(images)
            .filter((f) => f.endsWith('.fatbin'))
            .map((f) => [f.replace(/\.fatbin$/, ''), new Uint8Array(readFileSync(join(images, f)))]),
        )
      : images;
  for (const [name, image] of Object.entries(files)) driver.loadModule(name, image);
  const cache = new Map<string, { f: CuFunction; shared: number }>();
  const kernel = (module: string, name: string, sharedBytes = 0): CuFunction => {
    const key = `${module}.${name}`;
    let e = cache.get(key);
    if (!e) {
      e = { f: driver.fn(module, name), shared: 48 * 1024 };
      cache.set(key, e);
    }
    if (sharedBytes > e.shared) {
      driver.setSharedLimit(e.f, sharedBytes);
      e.shared = sharedBytes;
    }
    return e.f;
  };
  const temps = new Map<DevPtr, number>();
  let tempBytes = 0;
  return {
    driver,
    kernel,
    launch: (module, name, cfg, args) => driver.launch(kernel(module, name, cfg.shared), cfg, args),
    temp: (bytes) => {
      const p = driver.alloc(bytes);
      temps.set(p, bytes);
      tempBytes += bytes;
      return p;
    },
    release: (p) => {
      driver.free(p);
      tempBytes -= temps.get(p) ?? 0;
      temps.delete(p);
    },
    tempBytes: () => tempBytes,
  };
}

/** A 1-D grid of `threads`-wide blocks covering n items (at least one block). */
export function grid1d(n: number, threads = 256): LaunchConfig {
  return { grid: [Math.max(1, Math.ceil(n / threads)), 1, 1], block: [threads, 1, 1], shared: 0 };
}
