// Elementwise kernels: fp32 unary ops (codes in UNARY_OPS order of src/core/op-spec.ts), fp32 and
// int32 binary ops with broadcasting through per-dimension strides (codes in BINARY_OPS order),
// where over 32-bit words, the fp32 <-> bf16 casts and the fp32 <-> int32 casts of the `cast` op.
// Grid-stride loops over 64-bit element counts.
#include <cuda_bf16.h>
#include <math.h>
#include <stdint.h>

#define MAXRANK 6
struct Bcast {  // output shape and input strides (0 on broadcast dims), innermost last
  int rank;
  long long shape[MAXRANK];
  long long sa[MAXRANK];
  long long sb[MAXRANK];
  long long sc[MAXRANK];
};

__device__ __forceinline__ float unary_op(int op, float x) {
  switch (op) {
    case 0: return -x;
    case 1: return expf(x);
    case 2: return logf(x);
    case 3: return sqrtf(x);
    case 4: return rsqrtf(x);
    case 5: return tanhf(x);
    case 6: return 1.f / (1.f + expf(-x));
    case 7: return x / (1.f + expf(-x));
    case 8: return 0.5f * x * (1.f + tanhf(0.7978845608028654f * (x + 0.044715f * x * x * x)));
    case 9: return fabsf(x);
    case 10: return (float)((x > 0.f) - (x < 0.f));
    case 11: return sinf(x);
    default: return cosf(x);
  }
}
__device__ __forceinline__ float binary_op(int op, float a, float b) {
  switch (op) {
    case 0: return a + b;
    case 1: return a - b;
    case 2: return a * b;
    case 3: return a / b;
    case 4: return powf(a, b);
    case 5: return fmaxf(a, b);
    case 6: return a > b ? 1.f : 0.f;
    default: return a == b ? 1.f : 0.f;
  }
}

extern "C" __global__ void unary_f32(const float* __restrict__ x, float* __restrict__ y, long long n, int op) {
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x)
    y[i] = unary_op(op, x[i]);
}

__device__ __forceinline__ void offsets(const Bcast& p, long long i, long long& oa, long long& ob, long long& oc) {
  oa = ob = oc = 0;
  for (int d = p.rank - 1; d >= 0; --d) {
    const long long c = i % p.shape[d];
    i /= p.shape[d];
    oa += c * p.sa[d];
    ob += c * p.sb[d];
    oc += c * p.sc[d];
  }
}

extern "C" __global__ void binary_f32(const float* __restrict__ a, const float* __restrict__ b, float* __restrict__ y,
                                      long long n, int op, Bcast p) {
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) {
    long long oa, ob, oc;
    offsets(p, i, oa, ob, oc);
    y[i] = binary_op(op, a[oa], b[ob]);
  }
}

// A double stored into an int32 as the reference does (a typed-array store, ECMAScript ToInt32):
// truncation toward zero, NaN and infinities to 0, values outside the int32 range wrapped modulo 2^32.
__device__ __forceinline__ int to_int32_js(double x) {
  if (!isfinite(x)) return 0;
  const double t = trunc(x);
  if (t >= -2147483648.0 && t <= 2147483647.0) return (int)t;
  double m = fmod(t, 4294967296.0);  // exact (fmod always is)
  if (m < 0) m += 4294967296.0;
  return (int)(unsigned int)m;
}
// int32 ops as the reference computes them: in double (exact for add, sub, maximum and the
// comparisons; one correctly rounded mul or div, as in JS), then stored with ToInt32, or as 1/0 in
// float32 for greater and equal. pow is not here (libm and V8 may differ in the last bit, which
// the wrap would magnify): the backend falls back for it.
__device__ __forceinline__ double binary_i32_op(int op, double a, double b) {
  switch (op) {
    case 0: return a + b;
    case 1: return a - b;
    case 2: return a * b;
    case 3: return a / b;
    case 5: return fmax(a, b);
    case 6: return a > b ? 1.0 : 0.0;
    default: return a == b ? 1.0 : 0.0;
  }
}
extern "C" __global__ void binary_i32(const int* __restrict__ a, const int* __restrict__ b, int* __restrict__ y,
                                      long long n, int op, Bcast p) {
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) {
    long long oa, ob, oc;
    offsets(p, i, oa, ob, oc);
    y[i] = to_int32_js(binary_i32_op(op, a[oa], b[ob]));
  }
}
extern "C" __global__ void compare_i32(const int* __restrict__ a, const int* __restrict__ b, float* __restrict__ y,
                                       long long n, int op, Bcast p) {
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) {
    long long oa, ob, oc;
    offsets(p, i, oa, ob, oc);
    y[i] = (float)binary_i32_op(op, a[oa], b[ob]);
  }
}

// y = cond != 0 ? a : b, a and b moved as 32-bit words (float32 or int32, bit for bit); cond is
// float32 (condInt 0: -0 is false, NaN true, as the reference's `!== 0`) or int32 (condInt 1).
// Strides: sa = cond, sb = a, sc = b.
extern "C" __global__ void where_32(const void* __restrict__ c, const unsigned* __restrict__ a,
                                   const unsigned* __restrict__ b, unsigned* __restrict__ y, long long n, int condInt,
                                   Bcast p) {
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) {
    long long oc, oa, ob;
    offsets(p, i, oc, oa, ob);
    const bool on = condInt ? ((const int*)c)[oc] != 0 : ((const float*)c)[oc] != 0.f;
    y[i] = on ? a[oa] : b[ob];
  }
}

extern "C" __global__ void cast_f32_bf16(const float* __restrict__ x, __nv_bfloat16* __restrict__ y, long long n) {
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x)
    y[i] = __float2bfloat16_rn(x[i]);
}
extern "C" __global__ void cast_bf16_f32(const __nv_bfloat16* __restrict__ x, float* __restrict__ y, long long n) {
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x)
    y[i] = __bfloat162float(x[i]);
}

extern "C" __global__ void cast_f32_i32(const float* __restrict__ x, int* __restrict__ y, long long n) {
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x)
    y[i] = to_int32_js((double)x[i]);
}
// int32 -> float32, rounded to nearest (even), as a Float32Array store rounds.
extern "C" __global__ void cast_i32_f32(const int* __restrict__ x, float* __restrict__ y, long long n) {
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x)
    y[i] = __int2float_rn(x[i]);
}

// Counter-based uniform random numbers in [-a, a): a hash of (seed, i), so inputs can be made on
// the device for benchmarks without a host upload.
__device__ __forceinline__ float hash_uniform(unsigned long long seed, long long i) {
  unsigned long long z = seed * 0x9E3779B97F4A7C15ull + (unsigned long long)i * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  return (float)(z >> 40) * (2.f / 16777216.f) - 1.f;
}
extern "C" __global__ void fill_uniform_f32(float* __restrict__ y, long long n, unsigned long long seed, float a) {
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x)
    y[i] = a * hash_uniform(seed, i);
}
extern "C" __global__ void fill_uniform_bf16(__nv_bfloat16* __restrict__ y, long long n, unsigned long long seed, float a) {
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x)
    y[i] = __float2bfloat16_rn(a * hash_uniform(seed, i));
}
