/**
 * A Driver that runs on host memory: allocations are ArrayBuffers at fake device addresses, a
 * launch is checked against the kernel's signature in the .cu sources and against the hardware
 * limits, recorded, and (for the kernels emulated here) executed block by block in plain
 * TypeScript with the same grid mapping as the CUDA code, so launch geometry, argument packing,
 * plan upload and plan building are testable without a GPU.
 */
import {
  type CuFunction,
  checkLaunch,
  type DevPtr,
  type Driver,
  type KernelArg,
  type LaunchConfig,
  packArgs,
} from '../../../src/backends/cuda/driver-types.js';
import { checkArgs, type KernelSignature } from '../../../src/backends/cuda/signatures.js';

export interface MockLaunch {
  readonly f: CuFunction;
  readonly cfg: LaunchConfig;
  readonly args: readonly KernelArg[];
}

/** Host memory addressed by fake device pointers. */
export interface MockMemory {
  f32(p: DevPtr, n: number): Float32Array;
  i32(p: DevPtr, n: number): Int32Array;
  u16(p: DevPtr, n: number): Uint16Array;
  /** The bytes from p to the end of its allocation. */
  rest(p: DevPtr): Uint8Array;
}

/**
 * A host implementation of one kernel: runs the whole grid. `a` holds the decoded arguments (a
 * by-value struct as its offset into `block`, the packed argument block it is read from).
 */
export type MockKernel = (mem: MockMemory, a: number[], cfg: LaunchConfig, block: DataView) => void;

export interface MockDriver extends Driver {
  readonly launches: MockLaunch[];
  /** The host arrays of every upload and download, in order (what crossed to and from the host). */
  readonly uploads: ArrayBufferView[];
  readonly downloads: ArrayBufferView[];
  readonly mem: MockMemory;
  liveAllocations(): number;
}

/** Reads the packed block back, so every launch exercises packArgs. */
function decode(args: readonly KernelArg[]): { a: number[]; v: DataView } {
  const { block, offsets } = packArgs(args);
  const v = new DataView(block.buffer);
  const a = args.map((a, i) => {
    const o = offsets[i];
    if ('ptr' in a) return Number(v.getBigUint64(o, true));
    if ('i64' in a) return Number(v.getBigInt64(o, true));
    if ('i32' in a) return v.getInt32(o, true);
    if ('f32' in a) return v.getFloat32(o, true);
    return o;
  });
  return { a, v };
}

export function createMockDriver(
  signatures: readonly KernelSignature[],
  kernels: Record<string, MockKernel>,
): MockDriver {
  const allocs = new Map<number, ArrayBuffer>();
  let next = 0x10000;
  const find = (p: DevPtr, bytes: number): [ArrayBuffer, number] => {
    for (const [base, buf] of allocs)
      if (p >= base && p + bytes <= base + buf.byteLength) return [buf, p - base];
    throw new Error(`mock: ${bytes} bytes at 0x${p.toString(16)} are outside every allocation`);
  };
  const mem: MockMemory = {
    f32: (p, n) => new Float32Array(...(find(p, n * 4) as [ArrayBuffer, number]), n),
    i32: (p, n) => new Int32Array(...(find(p, n * 4) as [ArrayBuffer, number]), n),
    u16: (p, n) => new Uint16Array(...(find(p, n * 2) as [ArrayBuffer, number]), n),
    rest: (p) => {
      const [b, o] = find(p, 0);
      return new Uint8Array(b, o);
    },
  };
  const bytesView = (p: DevPtr, n: number) => {
    const [b, o] = find(p, n);
    return new Uint8Array(b, o, n);
  };
  const asBytes = (v: ArrayBufferView) => new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  const modules = new Set<string>();
  const launches: MockLaunch[] = [];
  const uploads: ArrayBufferView[] = [];
  const downloads: ArrayBufferView[] = [];
  const marks: number[] = [];
  return {
    kind: 'mock',
    launches,
    uploads,
    downloads,
    mem,
    liveAllocations: () => allocs.size,
    info: () => ({
      name: 'mock',
      driverVersion: 0,
      multiprocessors: 1,
      computeCapability: [9, 0],
      totalMemory: 1 << 30,
    }),
    alloc(bytes) {
      const p = next;
      allocs.set(p, new ArrayBuffer(Math.max(1, bytes)));
      next += Math.ceil(Math.max(1, bytes) / 256) * 256 + 256;
      return p;
    },
    free(p) {
      if (!allocs.delete(p)) throw new Error(`mock: free of 0x${p.toString(16)}, which is not an allocation`);
    },
    upload: (dst, src) => {
      uploads.push(src);
      bytesView(dst, src.byteLength).set(asBytes(src));
    },
    download: (dst, src) => {
      downloads.push(dst);
      asBytes(dst).set(bytesView(src, dst.byteLength));
    },
    copy: (dst, src, n) => bytesView(dst, n).set(bytesView(src, n)),
    memset: (dst, value, n) => bytesView(dst, n).fill(value),
    memset32: (dst, bits, n) => new Uint32Array(...find(dst, n * 4), n).fill(bits >>> 0),
    loadModule(name) {
      modules.add(name);
    },
    fn(module, name) {
      if (!modules.has(module)) throw new Error(`CUDA module '${module}' is not loaded`);
      if (!signatures.some((s) => s.module === module && s.name.test(name)))
        throw new Error(`no kernel ${module}.${name}`);
      return { module, name };
    },
    setSharedLimit(f, bytes) {
      if (bytes > 227 * 1024) throw new Error(`${f.name}: ${bytes} bytes of shared memory is over the limit`);
    },
    launch(f, cfg, args) {
      checkLaunch(f, cfg);
      checkArgs(signatures, f.module, f.name, args);
      launches.push({ f, cfg, args });
      const k =
        kernels[f.name] ??
        Object.entries(kernels).find(([n]) => n.endsWith('*') && f.name.startsWith(n.slice(0, -1)))?.[1];
      if (!k) throw new Error(`mock: kernel ${f.name} is not emulated`);
      const { a, v } = decode(args);
      k(mem, a, cfg, v);
    },
    sync() {},
    record() {
      marks.push(performance.now());
      return { id: marks.length - 1 };
    },
    elapsed: (a, b) => marks[b.id] - marks[a.id],
  };
}
