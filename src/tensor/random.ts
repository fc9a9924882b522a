/**
 * Counter-based random numbers (Philox-4x32-10): the value at position i of stream (seed, offset)
 * depends only on those numbers, so every backend (and a GPU kernel) can produce the same values,
 * and an RNG state is two integers, trivially saved in a checkpoint.
 */
import type { Shape } from '../core/shape.js';
import { sizeOf } from '../core/shape.js';
import { fromArray, type Tensor } from './tensor.js';

const M0 = 0xd2511f53;
const M1 = 0xcd9e8d57;
const W0 = 0x9e3779b9;
const W1 = 0xbb67ae85;

/** Full 32x32 -> 64-bit product as [hi, lo] (unsigned). */
function mulHiLo(a: number, b: number): [number, number] {
  const aL = a & 0xffff;
  const aH = a >>> 16;
  const bL = b & 0xffff;
  const bH = b >>> 16;
  const ll = aL * bL;
  const lh = aL * bH;
  const hl = aH * bL;
  const hh = aH * bH;
  const mid = (ll >>> 16) + (lh & 0xffff) + (hl & 0xffff);
  const lo = ((mid << 16) | (ll & 0xffff)) >>> 0;
  const hi = (hh + (lh >>> 16) + (hl >>> 16) + (mid >>> 16)) >>> 0;
  return [hi, lo];
}

/** Four 32-bit words for counter (c0, c1) under key (k0, k1). */
export function philox(c0: number, c1: number, k0: number, k1: number, out: Uint32Array): void {
  let x0 = c0 >>> 0;
  let x1 = c1 >>> 0;
  let x2 = 0;
  let x3 = 0;
  let a = k0 >>> 0;
  let b = k1 >>> 0;
  for (let r = 0; r < 10; r++) {
    const [h0, l0] = mulHiLo(M0, x0);
    const [h1, l1] = mulHiLo(M1, x2);
    const n0 = (h1 ^ x1 ^ a) >>> 0;
    const n2 = (h0 ^ x3 ^ b) >>> 0;
    x0 = n0;
    x1 = l1;
    x2 = n2;
    x3 = l0;
    a = (a + W0) >>> 0;
    b = (b + W1) >>> 0;
  }
  out[0] = x0;
  out[1] = x1;
  out[2] = x2;
  out[3] = x3;
}

const U32 = 2 ** -32;

/** A seeded stream; `offset` counts 4-word blocks consumed, so state = { seed, offset }. */
export class Rng {
  constructor(
    readonly seed: number,
    public offset = 0,
  ) {}

  /** `n` uniforms in (0, 1). */
  uniformArray(n: number): Float32Array {
    return Float32Array.from(this.uint32Array(n), (w) => (w + 0.5) * U32);
  }

  /** `n` raw 32-bit words (for integers: a float32 uniform keeps only 24 bits). */
  uint32Array(n: number): Uint32Array {
    const out = new Uint32Array(n);
    const w = new Uint32Array(4);
    for (let i = 0; i < n; i += 4) {
      philox(this.offset, Math.floor(this.offset / 2 ** 32), this.seed, 0x6d6f6761, w);
      this.offset++;
      for (let j = 0; j < 4 && i + j < n; j++) out[i + j] = w[j];
    }
    return out;
  }

  /** `n` standard normals (Box-Muller on pairs of uniforms). */
  normalArray(n: number): Float32Array {
    const u = this.uniformArray(n + (n % 2));
    const out = new Float32Array(n);
    for (let i = 0; i < n; i += 2) {
      const r = Math.sqrt(-2 * Math.log(u[i]));
      const t = 2 * Math.PI * u[i + 1];
      out[i] = r * Math.cos(t);
      if (i + 1 < n) out[i + 1] = r * Math.sin(t);
    }
    return out;
  }

  /** A uniform integer in [0, n). */
  int(n: number): number {
    return Math.min(n - 1, Math.floor(this.uniformArray(1)[0] * n));
  }

  normal(shape: Shape, std = 1, mean = 0): Tensor {
    const a = this.normalArray(sizeOf(shape));
    if (std !== 1 || mean !== 0) for (let i = 0; i < a.length; i++) a[i] = a[i] * std + mean;
    return fromArray(a, shape);
  }

  uniform(shape: Shape, lo = 0, hi = 1): Tensor {
    const a = this.uniformArray(sizeOf(shape));
    if (lo !== 0 || hi !== 1) for (let i = 0; i < a.length; i++) a[i] = lo + a[i] * (hi - lo);
    return fromArray(a, shape);
  }

  /** An independent stream derived from this one (for per-module or per-sample seeds). */
  fork(tag: number): Rng {
    const w = new Uint32Array(4);
    philox(tag >>> 0, 0x666f726b, this.seed, this.offset >>> 0, w);
    return new Rng(w[0]);
  }

  state(): { seed: number; offset: number } {
    return { seed: this.seed, offset: this.offset };
  }
}

export function randn(shape: Shape, seed: number, std = 1): Tensor {
  return new Rng(seed).normal(shape, std);
}

export function rand(shape: Shape, seed: number, lo = 0, hi = 1): Tensor {
  return new Rng(seed).uniform(shape, lo, hi);
}
