/**
 * The small surface of the CUDA driver the backend uses, as plain data, so that a mock (host
 * arrays, reference code) can stand in for libcuda in tests. Device addresses are plain numbers:
 * CUDA's 64-bit virtual addresses sit below 2^53.
 */
export type DevPtr = number;

/** One kernel parameter, in declaration order. `bytes` is a by-value struct (8-byte aligned). */
export type KernelArg =
  | { readonly ptr: DevPtr }
  | { readonly i32: number }
  | { readonly f32: number }
  | { readonly i64: number }
  | { readonly bytes: Uint8Array };

export interface LaunchConfig {
  readonly grid: readonly [number, number, number];
  readonly block: readonly [number, number, number];
  /** Dynamic shared memory in bytes. */
  readonly shared: number;
}

/** A kernel looked up in a loaded module. */
export interface CuFunction {
  readonly module: string;
  readonly name: string;
}

export interface DeviceInfo {
  readonly name: string;
  /** e.g. 13000 for CUDA 13.0 (cuDriverGetVersion). */
  readonly driverVersion: number;
  readonly multiprocessors: number;
  readonly computeCapability: readonly [number, number];
  readonly totalMemory: number;
}

export interface EventMark {
  readonly id: number;
}

export interface Driver {
  readonly kind: 'cuda' | 'mock';
  info(): DeviceInfo;
  /** Device memory of `bytes` (contents undefined). */
  alloc(bytes: number): DevPtr;
  free(p: DevPtr): void;
  /** Host -> device, ordered after queued work; returns when the copy is done. */
  upload(dst: DevPtr, src: ArrayBufferView): void;
  /** Device -> host after all queued work. */
  download(dst: ArrayBufferView, src: DevPtr): void;
  /** Device -> device copy (stream-ordered). */
  copy(dst: DevPtr, src: DevPtr, bytes: number): void;
  /** Sets `bytes` bytes to `value` (stream-ordered). */
  memset(dst: DevPtr, value: number, bytes: number): void;
  /** Sets `count` 32-bit words to the bit pattern `bits` (stream-ordered). */
  memset32(dst: DevPtr, bits: number, count: number): void;
  /** Loads a fatbin/cubin/PTX image under a name. */
  loadModule(name: string, image: Uint8Array): void;
  fn(module: string, name: string): CuFunction;
  /** Raises a kernel's dynamic shared memory limit (above 48 KiB needs this). */
  setSharedLimit(f: CuFunction, bytes: number): void;
  launch(f: CuFunction, cfg: LaunchConfig, args: readonly KernelArg[]): void;
  /** Waits for all queued work and reports a kernel fault as an error. */
  sync(): void;
  record(): EventMark;
  /** Milliseconds between two recorded marks (waits for the second). */
  elapsed(a: EventMark, b: EventMark): number;
}

/** Bytes per element of the storage types the CUDA kernels use. */
export type DeviceDType = 'float32' | 'int32' | 'bfloat16';
export const DEVICE_BYTES: Record<DeviceDType, number> = { float32: 4, int32: 4, bfloat16: 2 };

/**
 * Packs kernel parameters as the C ABI lays them out (natural alignment), returning the block and
 * each parameter's offset: cuLaunchKernel takes an array of pointers into such a block.
 */
export function packArgs(args: readonly KernelArg[]): { block: Uint8Array; offsets: number[] } {
  const offsets: number[] = [];
  let size = 0;
  const place = (bytes: number, align: number) => {
    size = Math.ceil(size / align) * align;
    offsets.push(size);
    size += bytes;
  };
  for (const a of args) {
    if ('ptr' in a || 'i64' in a) place(8, 8);
    else if ('i32' in a || 'f32' in a) place(4, 4);
    else place(a.bytes.length, 8);
  }
  const block = new Uint8Array(Math.max(8, Math.ceil(size / 8) * 8));
  const view = new DataView(block.buffer);
  args.forEach((a, i) => {
    const o = offsets[i];
    if ('ptr' in a) view.setBigUint64(o, BigInt(a.ptr), true);
    else if ('i64' in a) view.setBigInt64(o, BigInt(a.i64), true);
    else if ('i32' in a) {
      if (!Number.isInteger(a.i32) || a.i32 < -(2 ** 31) || a.i32 >= 2 ** 31)
        throw new Error(`kernel argument ${i}: ${a.i32} is not a 32-bit integer`);
      view.setInt32(o, a.i32, true);
    } else if ('f32' in a) view.setFloat32(o, a.f32, true);
    else block.set(a.bytes, o);
  });
  return { block, offsets };
}

/** Checks a launch shape against the hardware limits before it reaches the driver. */
export function checkLaunch(f: CuFunction, cfg: LaunchConfig): void {
  const [gx, gy, gz] = cfg.grid;
  const [bx, by, bz] = cfg.block;
  const bad = (what: string) => new Error(`launch of ${f.module}.${f.name}: ${what}`);
  for (const v of [...cfg.grid, ...cfg.block])
    if (!Number.isInteger(v) || v < 1) throw bad(`dimension ${v} is not a positive integer`);
  if (gx > 2 ** 31 - 1 || gy > 65535 || gz > 65535)
    throw bad(`grid ${cfg.grid.join('x')} exceeds the limits`);
  if (bx * by * bz > 1024) throw bad(`block ${cfg.block.join('x')} has more than 1024 threads`);
  if (cfg.shared < 0 || cfg.shared > 227 * 1024)
    throw bad(`${cfg.shared} bytes of shared memory is out of range`);
}
