// Data movement as one strided copy of 32-bit words (float32 or int32 alike): y[y0 + sum c_d ys_d] =
// x[x0 + sum c_d xs_d] for every index c of `shape`. The host (ops.ts) turns permute, slice,
// broadcastTo, concat (one launch per input) and pad (a fill, then the interior) into its strides;
// broadcast axes read with stride 0. Grid-stride loop over 64-bit element counts.
#include <stdint.h>

#define MAXRANK 8
struct Strided {  // iteration shape and both sides' strides, innermost last; base offsets
  int rank;
  long long shape[MAXRANK];
  long long xs[MAXRANK];
  long long ys[MAXRANK];
  long long x0;
  long long y0;
};

extern "C" __global__ void strided_copy_32(const uint32_t* __restrict__ x, uint32_t* __restrict__ y, long long n,
                                           Strided p) {
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) {
    long long r = i, xo = p.x0, yo = p.y0;
    for (int d = p.rank - 1; d >= 0; --d) {
      const long long c = r % p.shape[d];
      r /= p.shape[d];
      xo += c * p.xs[d];
      yo += c * p.ys[d];
    }
    y[yo] = x[xo];
  }
}
