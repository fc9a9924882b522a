/**
 * The real Driver: libcuda.so.1 through koffi. One device (ordinal 0), its primary context, the
 * legacy default stream (so copies and launches are ordered without stream bookkeeping).
 * `openCudaDriver` returns a reason string instead of throwing when there is no usable driver.
 */
import { createRequire } from 'node:module';
import {
  type CuFunction,
  checkLaunch,
  type DeviceInfo,
  type DevPtr,
  type Driver,
  type EventMark,
  type KernelArg,
  type LaunchConfig,
  packArgs,
} from './driver-types.js';

// biome-ignore lint/suspicious/noExplicitAny: koffi's function objects are untyped
type Fn = (...a: any[]) => any;

const MAX_ARG_BYTES = 4096;
const MAX_ARGS = 64;
const ATTR_MAX_DYNAMIC_SHARED = 8; // CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES
const DEV_ATTR_SM_COUNT = 16; // CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT
const DEV_ATTR_CC_MAJOR = 75;
const DEV_ATTR_CC_MINOR = 76;

/** Opens device 0, or says why not ("no NVIDIA driver", "no CUDA device", ...). */
export function openCudaDriver(): Driver | string {
  // biome-ignore lint/suspicious/noExplicitAny: koffi module
  let koffi: any;
  try {
    koffi = createRequire(import.meta.url)('koffi');
  } catch (e) {
    return `the FFI module koffi could not load (${(e as Error).message})`;
  }
  // biome-ignore lint/suspicious/noExplicitAny: koffi library handle
  let lib: any;
  try {
    lib = koffi.load('libcuda.so.1');
  } catch {
    return 'no NVIDIA driver (libcuda.so.1 not found)';
  }
  const f = (sig: string): Fn => lib.func(sig);
  const api = {
    init: f('int cuInit(uint32_t flags)'),
    errName: f('int cuGetErrorName(int err, _Out_ const char **s)'),
    count: f('int cuDeviceGetCount(_Out_ int *n)'),
    device: f('int cuDeviceGet(_Out_ int *dev, int ordinal)'),
    devName: f('int cuDeviceGetName(_Out_ uint8_t *name, int len, int dev)'),
    devAttr: f('int cuDeviceGetAttribute(_Out_ int *v, int attr, int dev)'),
    totalMem: f('int cuDeviceTotalMem_v2(_Out_ uint64_t *bytes, int dev)'),
    version: f('int cuDriverGetVersion(_Out_ int *v)'),
    retain: f('int cuDevicePrimaryCtxRetain(_Out_ void **ctx, int dev)'),
    setCurrent: f('int cuCtxSetCurrent(void *ctx)'),
    sync: f('int cuCtxSynchronize()'),
    alloc: f('int cuMemAlloc_v2(_Out_ uint64_t *p, size_t bytes)'),
    free: f('int cuMemFree_v2(uint64_t p)'),
    htod: f('int cuMemcpyHtoD_v2(uint64_t dst, const void *src, size_t bytes)'),
    dtoh: f('int cuMemcpyDtoH_v2(_Out_ void *dst, uint64_t src, size_t bytes)'),
    memset: f('int cuMemsetD8_v2(uint64_t dst, uint8_t value, size_t n)'),
    dtod: f('int cuMemcpyDtoD_v2(uint64_t dst, uint64_t src, size_t bytes)'),
    memset32: f('int cuMemsetD32_v2(uint64_t dst, uint32_t value, size_t n)'),
    load: f('int cuModuleLoadData(_Out_ void **mod, const void *image)'),
    getFn: f('int cuModuleGetFunction(_Out_ void **fn, void *mod, const char *name)'),
    setAttr: f('int cuFuncSetAttribute(void *fn, int attr, int value)'),
    launch: f(
      'int cuLaunchKernel(void *f, uint32_t gx, uint32_t gy, uint32_t gz, uint32_t bx, uint32_t by, uint32_t bz, uint32_t shared, void *stream, void *params, void *extra)',
    ),
    eventCreate: f('int cuEventCreate(_Out_ void **e, uint32_t flags)'),
    eventRecord: f('int cuEventRecord(void *e, void *stream)'),
    eventSync: f('int cuEventSynchronize(void *e)'),
    eventElapsed: f('int cuEventElapsedTime(_Out_ float *ms, void *a, void *b)'),
  };
  const check = (r: number, what: string) => {
    if (r === 0) return;
    const s: (string | null)[] = [null];
    api.errName(r, s);
    throw new Error(`CUDA ${what} failed: ${s[0] ?? 'error'} (${r})`);
  };
  try {
    check(api.init(0), 'cuInit');
  } catch (e) {
    return `the NVIDIA driver did not initialise (${(e as Error).message})`;
  }
  const n = [0];
  check(api.count(n), 'cuDeviceGetCount');
  if (n[0] < 1) return 'no CUDA device';
  const dev = [0];
  check(api.device(dev, 0), 'cuDeviceGet');
  const ctx = [null];
  check(api.retain(ctx, dev[0]), 'cuDevicePrimaryCtxRetain');
  check(api.setCurrent(ctx[0]), 'cuCtxSetCurrent');

  const attr = (a: number) => {
    const v = [0];
    check(api.devAttr(v, a, dev[0]), 'cuDeviceGetAttribute');
    return v[0];
  };
  const nameBuf = new Uint8Array(256);
  check(api.devName(nameBuf, 256, dev[0]), 'cuDeviceGetName');
  const mem = [0];
  check(api.totalMem(mem, dev[0]), 'cuDeviceTotalMem');
  const ver = [0];
  check(api.version(ver), 'cuDriverGetVersion');
  const info: DeviceInfo = {
    name: new TextDecoder().decode(nameBuf.subarray(0, nameBuf.indexOf(0))),
    driverVersion: ver[0],
    multiprocessors: attr(DEV_ATTR_SM_COUNT),
    computeCapability: [attr(DEV_ATTR_CC_MAJOR), attr(DEV_ATTR_CC_MINOR)],
    totalMemory: Number(mem[0]),
  };

  // Stable native memory for launch parameters: the values, and the array of pointers into them.
  const argMem = koffi.alloc('uint8_t', MAX_ARG_BYTES);
  const argAddr: bigint = koffi.address(argMem);
  const argBytes = new Uint8Array(koffi.view(argMem, MAX_ARG_BYTES));
  const ptrMem = koffi.alloc('uint64_t', MAX_ARGS);
  const ptrs = new BigUint64Array(koffi.view(ptrMem, MAX_ARGS * 8));

  const modules = new Map<string, unknown>();
  const handles = new Map<CuFunction, unknown>();
  const events: unknown[] = [];
  const bytesOf = (v: ArrayBufferView) => v.byteLength;

  return {
    kind: 'cuda',
    info: () => info,
    alloc(bytes: number): DevPtr {
      const p = [0];
      check(api.alloc(p, Math.max(1, bytes)), `cuMemAlloc(${bytes})`);
      return Number(p[0]);
    },
    free(p: DevPtr) {
      check(api.free(p), 'cuMemFree');
    },
    upload(dst: DevPtr, src: ArrayBufferView) {
      if (bytesOf(src) > 0) check(api.htod(dst, src, bytesOf(src)), 'cuMemcpyHtoD');
    },
    download(dst: ArrayBufferView, src: DevPtr) {
      if (bytesOf(dst) > 0) check(api.dtoh(dst, src, bytesOf(dst)), 'cuMemcpyDtoH');
    },
    copy(dst: DevPtr, src: DevPtr, bytes: number) {
      if (bytes > 0) check(api.dtod(dst, src, bytes), 'cuMemcpyDtoD');
    },
    memset32(dst: DevPtr, bits: number, count: number) {
      if (count > 0) check(api.memset32(dst, bits >>> 0, count), 'cuMemsetD32');
    },
    memset(dst: DevPtr, value: number, bytes: number) {
      if (bytes > 0) check(api.memset(dst, value, bytes), 'cuMemsetD8');
    },
    loadModule(name: string, image: Uint8Array) {
      const m = [null];
      check(api.load(m, image), `cuModuleLoadData(${name})`);
      modules.set(name, m[0]);
    },
    fn(module: string, name: string): CuFunction {
      const m = modules.get(module);
      if (!m) throw new Error(`CUDA module '${module}' is not loaded`);
      const h = [null];
      check(api.getFn(h, m, name), `cuModuleGetFunction(${module}.${name})`);
      const f: CuFunction = { module, name };
      handles.set(f, h[0]);
      return f;
    },
    setSharedLimit(f: CuFunction, bytes: number) {
      check(api.setAttr(handles.get(f), ATTR_MAX_DYNAMIC_SHARED, bytes), `cuFuncSetAttribute(${f.name})`);
    },
    launch(f: CuFunction, cfg: LaunchConfig, args: readonly KernelArg[]) {
      checkLaunch(f, cfg);
      const h = handles.get(f);
      if (!h) throw new Error(`kernel ${f.module}.${f.name} was not looked up on this driver`);
      const { block, offsets } = packArgs(args);
      if (block.length > MAX_ARG_BYTES || offsets.length > MAX_ARGS)
        throw new Error(`too many kernel arguments for ${f.name}`);
      argBytes.set(block);
      offsets.forEach((o, i) => {
        ptrs[i] = argAddr + BigInt(o);
      });
      const [gx, gy, gz] = cfg.grid;
      const [bx, by, bz] = cfg.block;
      check(api.launch(h, gx, gy, gz, bx, by, bz, cfg.shared, null, ptrMem, null), `launch of ${f.name}`);
    },
    sync() {
      check(api.sync(), 'cuCtxSynchronize (a kernel failed)');
    },
    record(): EventMark {
      const e = [null];
      check(api.eventCreate(e, 0), 'cuEventCreate');
      check(api.eventRecord(e[0], null), 'cuEventRecord');
      events.push(e[0]);
      return { id: events.length - 1 };
    },
    elapsed(a: EventMark, b: EventMark) {
      check(api.eventSync(events[b.id]), 'cuEventSynchronize');
      const ms = [0];
      check(api.eventElapsed(ms, events[a.id], events[b.id]), 'cuEventElapsedTime');
      return ms[0];
    },
  };
}
