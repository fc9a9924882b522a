// conv3d around the GEMM (ops in src/backends/cuda/conv.ts): the column matrix of a block of output
// rows and its adjoint. Layouts as the reference (src/backends/ref/kernels/conv.ts): x [B, Ci, T, H, W],
// w [Co, Ci, KT, KH, KW], y [B, Co, To, Ho, Wo]; an output row is r = to * Ho + ho, a block is the
// rows [r0, r1) of one batch item, np = (r1 - r0) * Wo positions, and the column matrix is
// col [K, np] with K = Ci * KT * KH * KW, tap k = ((ci * KT + kt) * KH + kh) * KW + kw.
// No shared memory, no warp shuffles, no atomics: one thread per output element, grid-stride loops
// over 64-bit counts, so the file also builds for the host (test/cuda/host-build.ts) and the
// results do not depend on scheduling.
#include <stdint.h>

struct ConvArgs {
  int Ci, T, H, W;     // input, one batch item
  int KT, KH, KW;      // kernel
  int To, Ho, Wo;      // output
  int st, sh, sw;      // strides
  int pt, ph, pw;      // padding before, per axis
  int r0, r1;          // the block's output rows
  int ti0, nti, hi0, nhi;  // conv_col2im: the input rows it covers, [ti0, ti0 + nti) x [hi0, hi0 + nhi)
};

// col[k, j] = x[ci, ti, hi, wi] of tap k at position j of the block, 0 where the tap reads padding.
// x is one batch item; n = K * np.
extern "C" __global__ void conv_im2col(const float* __restrict__ x, float* __restrict__ col, long long n,
                                       ConvArgs a) {
  const long long np = (long long)(a.r1 - a.r0) * a.Wo;
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) {
    const long long k = i / np, j = i - k * np;
    const int kw = (int)(k % a.KW);
    long long t = k / a.KW;
    const int kh = (int)(t % a.KH);
    t /= a.KH;
    const int kt = (int)(t % a.KT);
    const long long ci = t / a.KT;
    const int r = a.r0 + (int)(j / a.Wo), wo = (int)(j % a.Wo);
    const int to = r / a.Ho, ho = r - to * a.Ho;
    const int ti = to * a.st + kt - a.pt, hi = ho * a.sh + kh - a.ph, wi = wo * a.sw + kw - a.pw;
    float v = 0.f;
    if (ti >= 0 && ti < a.T && hi >= 0 && hi < a.H && wi >= 0 && wi < a.W)
      v = x[((ci * a.T + ti) * a.H + hi) * (long long)a.W + wi];
    col[i] = v;
  }
}

// The adjoint, as a gather: dx[ci, ti, hi, wi] += the sum, in tap order, of the col entries of the
// block that read it. One thread per input element of the box [Ci] x [ti0, +nti) x [hi0, +nhi) x [W]
// (the rows the block can reach); dx is one batch item; n = Ci * nti * nhi * W.
extern "C" __global__ void conv_col2im(const float* __restrict__ col, float* __restrict__ dx, long long n,
                                       ConvArgs a) {
  const long long np = (long long)(a.r1 - a.r0) * a.Wo;
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) {
    const int wi = (int)(i % a.W);
    long long t = i / a.W;
    const int hi = a.hi0 + (int)(t % a.nhi);
    t /= a.nhi;
    const int ti = a.ti0 + (int)(t % a.nti);
    const long long ci = t / a.nti;
    float s = 0.f;
    for (int kt = 0; kt < a.KT; ++kt) {
      const int tt = ti + a.pt - kt;
      if (tt < 0 || tt % a.st) continue;
      const int to = tt / a.st;
      if (to >= a.To) continue;
      for (int kh = 0; kh < a.KH; ++kh) {
        const int hh = hi + a.ph - kh;
        if (hh < 0 || hh % a.sh) continue;
        const int ho = hh / a.sh;
        if (ho >= a.Ho) continue;
        const int r = to * a.Ho + ho;
        if (r < a.r0 || r >= a.r1) continue;
        const long long row = (long long)(r - a.r0) * a.Wo;
        for (int kw = 0; kw < a.KW; ++kw) {
          const int ww = wi + a.pw - kw;
          if (ww < 0 || ww % a.sw) continue;
          const int wo = ww / a.sw;
          if (wo >= a.Wo) continue;
          const long long k = ((ci * a.KT + kt) * a.KH + kh) * a.KW + kw;
          s += col[k * np + row + wo];
        }
      }
    }
    dx[((ci * a.T + ti) * a.H + hi) * (long long)a.W + wi] += s;
  }
}

// acc[i] += part[i]: the weight gradient summed over blocks, in block order.
extern "C" __global__ void conv_add_into(const float* __restrict__ part, float* __restrict__ acc, long long n) {
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x)
    acc[i] += part[i];
}
