// Row-wise fp32 kernels over the last axis (one block of 256 threads per row): sum and max
// reductions, softmax, rmsNorm / layerNorm forward and the backward's dx, rotary embedding, and row
// gather / scatter-add (one block per output row). Also column-wise: argmax along any axis and the
// norms' weight / bias gradients (sums over rows, in two deterministic passes).
#include <math.h>
#include <stdint.h>

__device__ __forceinline__ float block_reduce(float v, bool isMax) {
  __shared__ float sh[32];
  for (int o = 16; o; o >>= 1) {
    const float w = __shfl_xor_sync(0xffffffffu, v, o);
    v = isMax ? fmaxf(v, w) : v + w;
  }
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;
  __syncthreads();
  if (lane == 0) sh[warp] = v;
  __syncthreads();
  v = lane < nw ? sh[lane] : (isMax ? -INFINITY : 0.f);
  for (int o = 16; o; o >>= 1) {
    const float w = __shfl_xor_sync(0xffffffffu, v, o);
    v = isMax ? fmaxf(v, w) : v + w;
  }
  return v;  // every thread holds the result
}

// y[r] = sum (op 0) or max (op 1) of x[r, 0..cols). NaN propagates through max.
extern "C" __global__ void reduce_rows(const float* __restrict__ x, float* __restrict__ y, long long cols, int op) {
  const float* r = x + blockIdx.x * cols;
  float v = op ? -INFINITY : 0.f;
  bool nan = false;
  for (long long j = threadIdx.x; j < cols; j += blockDim.x) {
    const float e = r[j];
    nan |= e != e;
    v = op ? fmaxf(v, e) : v + e;
  }
  v = block_reduce(v, op == 1);
  if (op) nan = __syncthreads_or(nan);
  if (threadIdx.x == 0) y[blockIdx.x] = nan ? NAN : v;
}

extern "C" __global__ void softmax_rows(const float* __restrict__ x, float* __restrict__ y, int cols) {
  const float* r = x + (long long)blockIdx.x * cols;
  float* o = y + (long long)blockIdx.x * cols;
  float m = -INFINITY;
  for (int j = threadIdx.x; j < cols; j += blockDim.x) m = fmaxf(m, r[j]);
  m = block_reduce(m, true);
  float s = 0.f;
  for (int j = threadIdx.x; j < cols; j += blockDim.x) s += expf(r[j] - m);
  s = block_reduce(s, false);
  const float inv = 1.f / s;
  for (int j = threadIdx.x; j < cols; j += blockDim.x) o[j] = expf(r[j] - m) * inv;
}

// (x, w) -> (y, rstd): y = x * rstd * w, rstd = 1 / sqrt(mean(x^2) + eps).
extern "C" __global__ void rms_norm_rows(const float* __restrict__ x, const float* __restrict__ w,
                                         float* __restrict__ y, float* __restrict__ rstd, int cols, float eps) {
  const float* r = x + (long long)blockIdx.x * cols;
  float s = 0.f;
  for (int j = threadIdx.x; j < cols; j += blockDim.x) s += r[j] * r[j];
  s = block_reduce(s, false);
  const float rs = rsqrtf(s / cols + eps);
  for (int j = threadIdx.x; j < cols; j += blockDim.x) y[(long long)blockIdx.x * cols + j] = r[j] * rs * w[j];
  if (threadIdx.x == 0) rstd[blockIdx.x] = rs;
}

// (x, w, b) -> (y, mean, rstd), two passes over the row for a stable variance.
extern "C" __global__ void layer_norm_rows(const float* __restrict__ x, const float* __restrict__ w,
                                           const float* __restrict__ b, float* __restrict__ y,
                                           float* __restrict__ mean, float* __restrict__ rstd, int cols, float eps) {
  const float* r = x + (long long)blockIdx.x * cols;
  float s = 0.f;
  for (int j = threadIdx.x; j < cols; j += blockDim.x) s += r[j];
  const float mu = block_reduce(s, false) / cols;
  float v = 0.f;
  for (int j = threadIdx.x; j < cols; j += blockDim.x) v += (r[j] - mu) * (r[j] - mu);
  const float rs = rsqrtf(block_reduce(v, false) / cols + eps);
  for (int j = threadIdx.x; j < cols; j += blockDim.x)
    y[(long long)blockIdx.x * cols + j] = (r[j] - mu) * rs * w[j] + b[j];
  if (threadIdx.x == 0) {
    mean[blockIdx.x] = mu;
    rstd[blockIdx.x] = rs;
  }
}

// x [N, H, D], cos/sin [N, D/2]: pairs (2j, 2j+1) rotated; block = token, threads over (h, j).
extern "C" __global__ void rotary_f32(const float* __restrict__ x, const float* __restrict__ cs,
                                      const float* __restrict__ sn, float* __restrict__ y, int H, int D) {
  const long long n = blockIdx.x;
  const int half = D / 2;
  for (int t = threadIdx.x; t < H * half; t += blockDim.x) {
    const int h = t / half, j = t % half;
    const long long o = (n * H + h) * D + 2 * j;
    const float c = cs[n * half + j], s = sn[n * half + j], e = x[o], od = x[o + 1];
    y[o] = e * c - od * s;
    y[o + 1] = e * s + od * c;
  }
}

// y[i, :] = x[idx[i], :]; an index out of range sets *bad (the host reports it).
extern "C" __global__ void gather_rows_f32(const float* __restrict__ x, const int* __restrict__ idx,
                                           float* __restrict__ y, int rows, long long cols, int* bad) {
  const int r = idx[blockIdx.x];
  if (r < 0 || r >= rows) {
    if (threadIdx.x == 0) atomicExch(bad, 1);
    return;
  }
  for (long long j = threadIdx.x; j < cols; j += blockDim.x) y[blockIdx.x * cols + j] = x[r * cols + j];
}

// y[idx[i], :] += src[i, :] (y zeroed by the caller).
extern "C" __global__ void scatter_add_rows_f32(const float* __restrict__ src, const int* __restrict__ idx,
                                                float* __restrict__ y, int rows, long long cols, int* bad) {
  const int r = idx[blockIdx.x];
  if (r < 0 || r >= rows) {
    if (threadIdx.x == 0) atomicExch(bad, 1);
    return;
  }
  for (long long j = threadIdx.x; j < cols; j += blockDim.x) atomicAdd(y + r * cols + j, src[blockIdx.x * cols + j]);
}

// y[o, j] = the first index k of the maximum of x[o, k, j] over k < n, x seen as [outer, n, inner]
// (as the reference: strictly greater wins, so NaN never does, and a row of NaN or -inf gives 0).
// One thread per output: the axis is short where it is used (router groups).
extern "C" __global__ void argmax_axis(const float* __restrict__ x, int* __restrict__ y, long long outer, int n,
                                       long long inner) {
  const long long total = outer * inner;
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < total; i += (long long)gridDim.x * blockDim.x) {
    const float* r = x + (i / inner) * n * inner + i % inner;
    int best = 0;
    float bv = -INFINITY;
    for (int k = 0; k < n; ++k) {
      const float v = r[k * inner];
      if (v > bv) {
        bv = v;
        best = k;
      }
    }
    y[i] = best;
  }
}

// layerNorm backward, dx of one row per block: with g = dy * w and xh = (x - mean) * rstd,
// dx = rstd * (g - mean(g) - xh * mean(g * xh)).
extern "C" __global__ void layer_norm_bwd_rows(const float* __restrict__ dy, const float* __restrict__ x,
                                               const float* __restrict__ w, const float* __restrict__ mean,
                                               const float* __restrict__ rstd, float* __restrict__ dx, int cols) {
  const long long o = (long long)blockIdx.x * cols;
  const float mu = mean[blockIdx.x], rs = rstd[blockIdx.x];
  float s1 = 0.f, s2 = 0.f;
  for (int j = threadIdx.x; j < cols; j += blockDim.x) {
    const float g = dy[o + j] * w[j];
    s1 += g;
    s2 += g * (x[o + j] - mu) * rs;
  }
  const float m1 = block_reduce(s1, false) / cols;
  const float m2 = block_reduce(s2, false) / cols;
  for (int j = threadIdx.x; j < cols; j += blockDim.x)
    dx[o + j] = rs * (dy[o + j] * w[j] - m1 - (x[o + j] - mu) * rs * m2);
}

// rmsNorm backward, dx of one row per block: dx = rstd * dy * w - x * rstd^3 * mean(dy * w * x).
extern "C" __global__ void rms_norm_bwd_rows(const float* __restrict__ dy, const float* __restrict__ x,
                                             const float* __restrict__ w, const float* __restrict__ rstd,
                                             float* __restrict__ dx, int cols) {
  const long long o = (long long)blockIdx.x * cols;
  const float rs = rstd[blockIdx.x];
  float s = 0.f;
  for (int j = threadIdx.x; j < cols; j += blockDim.x) s += dy[o + j] * w[j] * x[o + j];
  const float c = rs * rs * rs * block_reduce(s, false) / cols;
  for (int j = threadIdx.x; j < cols; j += blockDim.x) dx[o + j] = rs * dy[o + j] * w[j] - x[o + j] * c;
}

// The norms' parameter gradients, first pass: block (bx, by) of 32 x 8 threads sums rows
// [by * chunk, (by + 1) * chunk) of columns bx * 32 + tx: pw[by, j] = sum dy * xh, pb[by, j] = sum dy
// with xh = (x - mean) * rstd (mean null: rmsNorm; pb null: no bias).
extern "C" __global__ void norm_bwd_partials(const float* __restrict__ dy, const float* __restrict__ x,
                                             const float* __restrict__ mean, const float* __restrict__ rstd,
                                             float* __restrict__ pw, float* __restrict__ pb, long long rows,
                                             int cols, int chunk) {
  __shared__ float sw[8][33], sb[8][33];
  const int tx = threadIdx.x, ty = threadIdx.y, j = blockIdx.x * 32 + tx;
  const long long r0 = (long long)blockIdx.y * chunk;
  const long long r1 = r0 + chunk < rows ? r0 + chunk : rows;
  float aw = 0.f, ab = 0.f;
  if (j < cols)
    for (long long r = r0 + ty; r < r1; r += 8) {
      const float g = dy[r * cols + j];
      aw += g * (x[r * cols + j] - (mean ? mean[r] : 0.f)) * rstd[r];
      ab += g;
    }
  sw[ty][tx] = aw;
  sb[ty][tx] = ab;
  __syncthreads();
  if (ty == 0 && j < cols) {
    for (int k = 1; k < 8; ++k) {
      aw += sw[k][tx];
      ab += sb[k][tx];
    }
    pw[(long long)blockIdx.y * cols + j] = aw;
    if (pb) pb[(long long)blockIdx.y * cols + j] = ab;
  }
}

// Second pass: y[j] = sum over c < chunks of part[c, j], one thread per column.
extern "C" __global__ void sum_cols(const float* __restrict__ part, float* __restrict__ y, int chunks, int cols) {
  for (int j = blockIdx.x * blockDim.x + threadIdx.x; j < cols; j += gridDim.x * blockDim.x) {
    float s = 0.f;
    for (int c = 0; c < chunks; ++c) s += part[(long long)c * cols + j];
    y[j] = s;
  }
}
