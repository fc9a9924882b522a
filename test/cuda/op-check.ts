/**
 * Runs one op on the CUDA backend over the mock driver and through the reference kernel on the
 * same inputs, and compares: no fallback (the names of the ops that fell back otherwise), the
 * expected kernels launched, every output element written (outputs start as a sentinel) and equal
 * to the reference's within tolerance (int32 exactly, NaN where the reference has NaN).
 */
import assert from 'node:assert/strict';
import type { TensorRef } from '../../src/backends/backend.js';
import type { CudaOpOptions } from '../../src/backends/cuda/attention-op.js';
import { type CudaBackend, createCudaBackend } from '../../src/backends/cuda/backend.js';
import { REF_KERNELS } from '../../src/backends/ref/kernels/index.js';
import type { RefKernel } from '../../src/backends/ref/view.js';
import { type DType, makeArray, type TypedArray } from '../../src/core/dtype.js';
import { type Meta, OP_SPECS, type OpName, type OpParams } from '../../src/core/op-spec.js';
import { fmt, sizeOf } from '../../src/core/shape.js';
import { mockContext } from './helpers.js';
import type { MockKernel } from './mock/driver.js';

export interface HostTensor {
  readonly data: TypedArray;
  readonly shape: readonly number[];
}

const SENTINEL: Record<DType, number> = { float32: -7777.25, int32: -77777 };

export interface CheckOptions {
  readonly rtol?: number;
  readonly atol?: number;
  /** Kernels that must have been launched. */
  readonly kernels?: readonly string[];
  /** Ops allowed to fall back (a case the op leaves to the reference on purpose). */
  readonly fallback?: readonly string[];
  /** Kernels run by these instead of their TypeScript host versions (host-built .cu sources). */
  readonly mock?: Record<string, MockKernel>;
  /** Options of the CUDA backend (e.g. a small conv3d block to run many blocks). */
  readonly backend?: CudaOpOptions;
}

export function checkOp<K extends OpName>(
  op: K,
  ins: readonly HostTensor[],
  p: OpParams[K],
  what: string,
  opts: CheckOptions = {},
): { be: CudaBackend; outs: TypedArray[]; launches: string[] } {
  const metas = (OP_SPECS[op] as (m: readonly Meta[], p: OpParams[K]) => Meta[])(
    ins.map((t) => ({ shape: t.shape, dtype: t.data instanceof Int32Array ? 'int32' : 'float32' })),
    p,
  );
  const want = metas.map((m) => ({ data: makeArray(m.dtype, sizeOf(m.shape)), shape: m.shape }));
  (REF_KERNELS[op] as RefKernel<K>)(ins, want, p);

  const { ctx, driver } = mockContext(opts.mock);
  const be = createCudaBackend(ctx, opts.backend);
  const upload = (data: TypedArray, shape: readonly number[], dtype: DType): TensorRef => {
    const storage = be.alloc(dtype, data.length);
    be.write(storage, data);
    return { storage, shape, dtype };
  };
  const inRefs = ins.map((t) => upload(t.data, t.shape, t.data instanceof Int32Array ? 'int32' : 'float32'));
  const outRefs = metas.map((m) =>
    upload(makeArray(m.dtype, sizeOf(m.shape)).fill(SENTINEL[m.dtype]), m.shape, m.dtype),
  );
  be.run(op, inRefs, outRefs, p);
  const fell = [...be.fallbacks.keys()].filter((k) => !opts.fallback?.includes(k));
  assert.deepEqual(fell, [], `${what}: fell back to the reference for ${fell.join(', ')}`);
  for (const k of opts.kernels ?? [])
    assert.ok(
      driver.launches.some((l) => l.f.name === k),
      `${what}: ${k} was not launched (launched: ${driver.launches.map((l) => l.f.name).join(', ') || 'none'})`,
    );
  const outs = outRefs.map((r, i) => be.readSync(r.storage, r.dtype, sizeOf(metas[i].shape)));
  outs.forEach((got, i) => close(got, want[i].data, `${what} output ${i} ${fmt(metas[i].shape)}`, opts));
  for (const r of [...inRefs, ...outRefs]) be.free(r.storage);
  assert.equal(driver.liveAllocations(), 0, `${what}: scratch memory was not released`);
  return { be, outs, launches: driver.launches.map((l) => l.f.name) };
}

function close(got: TypedArray, want: TypedArray, what: string, o: CheckOptions) {
  assert.equal(got.length, want.length, `${what}: length`);
  const [rtol, atol] = [o.rtol ?? 0, o.atol ?? 0];
  for (let i = 0; i < got.length; i++) {
    const [g, w] = [got[i], want[i]];
    const ok = Number.isNaN(w) ? Number.isNaN(g) : g === w || Math.abs(g - w) <= atol + rtol * Math.abs(w);
    if (!ok) assert.fail(`${what}: element ${i} is ${g}, the reference has ${w}`);
  }
}
