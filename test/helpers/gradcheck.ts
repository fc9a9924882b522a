/**
 * Finite-difference gradient checks in float64. The op's forward is evaluated by the reference
 * kernel on Float64Array views (the ref kernels are generic over typed arrays), central
 * differences give the numerical gradient of L = sum(w * op(x)[0]), and the engine's autodiff
 * (float32, through the op's gradient rule) must match it.
 */
import assert from 'node:assert/strict';
import { REF_KERNELS } from '../../src/backends/ref/kernels/index.js';
import type { RefKernel, View } from '../../src/backends/ref/view.js';
import { type Meta, OP_SPECS, type OpName, type OpParams } from '../../src/core/op-spec.js';
import { type Shape, sizeOf } from '../../src/core/shape.js';
import { gradients } from '../../src/tensor/autodiff.js';
import { mul, sum } from '../../src/tensor/ops.js';
import { apply, fromArray, tidy } from '../../src/tensor/tensor.js';

export interface Input {
  data: Float64Array | Int32Array;
  shape: Shape;
  /** Integer inputs (indices) are not differentiated. */
  grad?: boolean;
}

/** Forward of output 0 in float64 through the reference kernel. */
function forward64<K extends OpName>(op: K, ins: Input[], params: OpParams[K], metas: Meta[]): Float64Array {
  const views: View[] = ins.map((x) => ({ data: x.data as unknown as Float32Array, shape: x.shape }));
  const outs: View[] = metas.map((m) => ({
    data: (m.dtype === 'int32'
      ? new Int32Array(sizeOf(m.shape))
      : new Float64Array(sizeOf(m.shape))) as unknown as Float32Array,
    shape: m.shape,
  }));
  (REF_KERNELS[op] as RefKernel<K>)(views, outs, params);
  return outs[0].data as unknown as Float64Array;
}

export function checkOpGrad<K extends OpName>(
  op: K,
  ins: Input[],
  params: OpParams[K],
  tol: { rtol?: number; atol?: number; h?: number } = {},
): void {
  const { rtol = 2e-3, atol = 2e-4, h = 1e-6 } = tol;
  const metas = OP_SPECS[op](
    ins.map((x) => ({ shape: x.shape, dtype: x.data instanceof Int32Array ? 'int32' : 'float32' })),
    params,
  );
  const outSize = sizeOf(metas[0].shape);
  const w = Float64Array.from({ length: outSize }, (_, i) => Math.sin(i * 1.3 + 0.7) + 0.1 * (i % 3));
  const loss = (xs: Input[]) => forward64(op, xs, params, metas).reduce((s, v, i) => s + v * w[i], 0);

  const analytic = tidy(() => {
    const ts = ins.map((x) => {
      const t = fromArray(x.data instanceof Int32Array ? x.data : Float32Array.from(x.data), x.shape);
      t.requiresGrad = x.grad !== false && !(x.data instanceof Int32Array);
      return t;
    });
    const y = apply(op, ts, params)[0];
    const l = sum(mul(y, fromArray(Float32Array.from(w), y.shape)));
    const gs = gradients(
      l,
      ts.filter((t) => t.requiresGrad),
    );
    return gs.map((g) => g?.dataSync() as Float32Array | undefined);
  });

  let gi = 0;
  ins.forEach((x, i) => {
    if (x.grad === false || x.data instanceof Int32Array) return;
    const g = analytic[gi++];
    const xs = ins.map((v) => ({ ...v, data: v.data.slice() }));
    const d = xs[i].data as Float64Array;
    for (let j = 0; j < d.length; j++) {
      const v = d[j];
      d[j] = v + h;
      const lp = loss(xs);
      d[j] = v - h;
      const lm = loss(xs);
      d[j] = v;
      const num = (lp - lm) / (2 * h);
      const got = g ? g[j] : 0;
      assert.ok(
        Math.abs(got - num) <= atol + rtol * Math.abs(num),
        `${op}: d/d input ${i}[${j}] autodiff ${got} vs finite difference ${num}`,
      );
    }
  });
}

/** Deterministic pseudo-random float64 data in [lo, hi) (seeded, no shared state). */
export function randData(shape: Shape, seed: number, lo = -1, hi = 1): Float64Array {
  const n = sizeOf(shape);
  const out = new Float64Array(n);
  let s = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    out[i] = lo + ((s >>> 0) / 2 ** 32) * (hi - lo);
  }
  return out;
}

export const f = (shape: Shape, seed: number, lo = -1, hi = 1): Input => ({
  data: randData(shape, seed, lo, hi),
  shape,
});
