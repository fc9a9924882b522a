// Elementwise kernels on float32: unary ops, and binary ops over the broadcast cases that matter
// (same shape, one operand repeating with a period = suffix broadcast, one operand constant over
// runs = prefix broadcast / scalar). Op codes match UNARY_CODES / BINARY_CODES in ../kernels/codes.ts.
import { claim, finish } from './claim';
import { vexp, vsigmoid, vtanh } from './simd';

const NEG = 0, EXP = 1, LOG = 2, SQRT = 3, RSQRT = 4, TANH = 5, SIGMOID = 6, SILU = 7, GELU = 8;
const ABS = 9, SIGN = 10, SIN = 11, COS = 12;
const ADD = 0, SUB = 1, MUL = 2, DIV = 3, POW = 4, MAXIMUM = 5, GREATER = 6, EQUAL = 7;

const SQRT_2_OVER_PI: f32 = 0.7978845608028654;

// 0.5 x (1 + tanh(u)) = x * sigmoid(2u): the same function without the cancellation of 1 + tanh(u)
// for negative x (the reference computes in float64 and has none either).
// @ts-ignore: decorator
@inline
function vgelu(x: v128): v128 {
  const u = f32x4.mul(f32x4.splat(2 * SQRT_2_OVER_PI), f32x4.add(x, f32x4.mul(f32x4.splat(0.044715), f32x4.mul(x, f32x4.mul(x, x)))));
  return f32x4.mul(x, vsigmoid(u));
}

// Ops without a SIMD form go lane by lane through f64 libm (as the reference does).
function libm(op: i32, x: f32): f32 {
  switch (op) {
    case LOG: return <f32>Math.log(x);
    case SIN: return <f32>Math.sin(x);
    case COS: return <f32>Math.cos(x);
    default: return x > 0 ? 1 : x < 0 ? -1 : x; // SIGN: keeps -0, 0 and NaN, like Math.sign
  }
}

function lanes(op: i32, v: v128): v128 {
  let r = v;
  r = f32x4.replace_lane(r, 0, libm(op, f32x4.extract_lane(v, 0)));
  r = f32x4.replace_lane(r, 1, libm(op, f32x4.extract_lane(v, 1)));
  r = f32x4.replace_lane(r, 2, libm(op, f32x4.extract_lane(v, 2)));
  r = f32x4.replace_lane(r, 3, libm(op, f32x4.extract_lane(v, 3)));
  return r;
}

// Tails (n % 4 elements) use the same lane code as the body, so results do not depend on position.
function scalarUnary(op: i32, x: f32): f32 {
  return f32x4.extract_lane(vunaryOne(op, f32x4.splat(x)), 0);
}

function vunaryOne(op: i32, x: v128): v128 {
  return vunary(op, x);
}

// @ts-ignore: decorator
@inline
function vunary(op: i32, x: v128): v128 {
  switch (op) {
    case NEG: return f32x4.neg(x);
    case EXP: return vexp(x);
    case SQRT: return f32x4.sqrt(x);
    case RSQRT: return f32x4.div(f32x4.splat(1), f32x4.sqrt(x));
    case TANH: return vtanh(x);
    case SIGMOID: return vsigmoid(x);
    case SILU: return f32x4.mul(x, vsigmoid(x));
    case GELU: return vgelu(x);
    case ABS: return f32x4.abs(x);
    default: return lanes(op, x);
  }
}

// @ts-ignore: decorator
@inline
function unaryLoop(op: i32, x: usize, y: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    v128.store(y + o, vunary(op, v128.load(x + o)));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(y + o, scalarUnary(op, load<f32>(x + o)));
  }
}

/** y[i] = op(x[i]) for n floats. */
export function unary(op: i32, x: usize, y: usize, n: i32): void {
  // One specialised loop per op: the switch is resolved outside the loop.
  switch (op) {
    case NEG: unaryLoop(NEG, x, y, n); break;
    case EXP: unaryLoop(EXP, x, y, n); break;
    case SQRT: unaryLoop(SQRT, x, y, n); break;
    case RSQRT: unaryLoop(RSQRT, x, y, n); break;
    case TANH: unaryLoop(TANH, x, y, n); break;
    case SIGMOID: unaryLoop(SIGMOID, x, y, n); break;
    case SILU: unaryLoop(SILU, x, y, n); break;
    case GELU: unaryLoop(GELU, x, y, n); break;
    case ABS: unaryLoop(ABS, x, y, n); break;
    default: unaryLoop(op, x, y, n);
  }
}

// @ts-ignore: decorator
@inline
function vbin(op: i32, a: v128, b: v128): v128 {
  switch (op) {
    case ADD: return f32x4.add(a, b);
    case SUB: return f32x4.sub(a, b);
    case MUL: return f32x4.mul(a, b);
    case DIV: return f32x4.div(a, b);
    case MAXIMUM: return f32x4.max(a, b);
    case GREATER: return v128.and(f32x4.gt(a, b), f32x4.splat(1));
    case EQUAL: return v128.and(f32x4.eq(a, b), f32x4.splat(1));
    default: return powLanes(a, b);
  }
}

function pow1(a: f32, b: f32): f32 {
  return <f32>Math.pow(a, b);
}

function powLanes(a: v128, b: v128): v128 {
  let r = a;
  r = f32x4.replace_lane(r, 0, pow1(f32x4.extract_lane(a, 0), f32x4.extract_lane(b, 0)));
  r = f32x4.replace_lane(r, 1, pow1(f32x4.extract_lane(a, 1), f32x4.extract_lane(b, 1)));
  r = f32x4.replace_lane(r, 2, pow1(f32x4.extract_lane(a, 2), f32x4.extract_lane(b, 2)));
  r = f32x4.replace_lane(r, 3, pow1(f32x4.extract_lane(a, 3), f32x4.extract_lane(b, 3)));
  return r;
}

function vbinOne(op: i32, a: v128, b: v128): v128 {
  return vbin(op, a, b);
}

function sbin(op: i32, a: f32, b: f32): f32 {
  return f32x4.extract_lane(vbinOne(op, f32x4.splat(a), f32x4.splat(b)), 0);
}

// y[0..n) = op(a[0..n), b[0..n)) where an operand's step is 0 (constant) or 1 (streaming).
// @ts-ignore: decorator
@inline
function run(op: i32, a: usize, as: i32, b: usize, bs: i32, y: usize, n: i32): void {
  const av = f32x4.splat(load<f32>(a));
  const bv = f32x4.splat(load<f32>(b));
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    const x = as ? v128.load(a + o) : av;
    const z = bs ? v128.load(b + o) : bv;
    v128.store(y + o, vbin(op, x, z));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(y + o, sbin(op, load<f32>(a + (as ? o : 0)), load<f32>(b + (bs ? o : 0))));
  }
}

// mode 0: a, b both [n]. mode 1: b [inner] repeats (suffix broadcast). mode 2: a [inner] repeats.
// mode 3: b [n / inner], each value held for `inner` elements (prefix broadcast; scalar: inner = n).
// mode 4: a [n / inner] held likewise.
// @ts-ignore: decorator
@inline
function binaryLoop(op: i32, a: usize, b: usize, y: usize, n: i32, mode: i32, inner: i32): void {
  if (mode == 0) {
    run(op, a, 1, b, 1, y, n);
    return;
  }
  const rows = inner == 0 ? 0 : n / inner;
  const step = <usize>inner << 2;
  for (let r = 0; r < rows; r++) {
    const o = <usize>r * step;
    const q = <usize>r << 2;
    if (mode == 1) run(op, a + o, 1, b, 1, y + o, inner);
    else if (mode == 2) run(op, a, 1, b + o, 1, y + o, inner);
    else if (mode == 3) run(op, a + o, 1, b + q, 0, y + o, inner);
    else run(op, a + q, 0, b + o, 1, y + o, inner);
  }
}

/** y = op(a, b) in one of the broadcast modes above. */
export function binary(op: i32, a: usize, b: usize, y: usize, n: i32, mode: i32, inner: i32): void {
  switch (op) {
    case ADD: binaryLoop(ADD, a, b, y, n, mode, inner); break;
    case SUB: binaryLoop(SUB, a, b, y, n, mode, inner); break;
    case MUL: binaryLoop(MUL, a, b, y, n, mode, inner); break;
    case DIV: binaryLoop(DIV, a, b, y, n, mode, inner); break;
    case MAXIMUM: binaryLoop(MAXIMUM, a, b, y, n, mode, inner); break;
    case GREATER: binaryLoop(GREATER, a, b, y, n, mode, inner); break;
    case EQUAL: binaryLoop(EQUAL, a, b, y, n, mode, inner); break;
    default: binaryLoop(POW, a, b, y, n, mode, inner);
  }
}

/** unary over chunks of `chunk` elements (a multiple of 4), shared by the pool (see claim.ts). */
export function unaryChunks(ctl: usize, gen: i32, chunks: i32, chunk: i32, op: i32, x: usize, y: usize, n: i32): void {
  for (let i = claim(ctl, gen, chunks); i >= 0; i = claim(ctl, gen, chunks)) {
    const s = i * chunk;
    const o = <usize>s << 2;
    unary(op, x + o, y + o, min(chunk, n - s));
    finish(ctl);
  }
}

/**
 * binary over chunks, shared by the pool: mode 0 in chunks of `chunk` elements; the row modes in
 * chunks of `chunk` rows of `inner` elements (the broadcast operand's offset follows its mode).
 */
export function binaryChunks(
  ctl: usize, gen: i32, chunks: i32, chunk: i32,
  op: i32, a: usize, b: usize, y: usize, n: i32, mode: i32, inner: i32,
): void {
  for (let i = claim(ctl, gen, chunks); i >= 0; i = claim(ctl, gen, chunks)) {
    if (mode == 0) {
      const s = i * chunk;
      const o = <usize>s << 2;
      binary(op, a + o, b + o, y + o, min(chunk, n - s), 0, inner);
    } else {
      const rows = n / inner;
      const r0 = i * chunk;
      const r = min(chunk, rows - r0);
      const full = <usize>(r0 * inner) << 2; // offset of a full operand
      const held = <usize>r0 << 2; // offset of a prefix-broadcast operand (one value per row)
      // Suffix-broadcast operands ([inner], repeating) start at 0 in every chunk.
      const ao: usize = mode == 2 ? 0 : mode == 4 ? held : full;
      const bo: usize = mode == 1 ? 0 : mode == 3 ? held : full;
      binary(op, a + ao, b + bo, y + full, r * inner, mode, inner);
    }
    finish(ctl);
  }
}
