// Routing and plan building on the GPU: argmax over M router logits per token, then a counting
// sort by group: counts -> offsets (exclusive scan) -> token index per group. With qIndex = kvIndex
// = the sorted tokens and qOffsets = kvOffsets = the group offsets this is MoGA's plan. Also the
// per-segment tile offsets the attention kernels launch over. Order inside a group follows atomics
// (not stable); attention does not depend on it beyond rounding.
#include <stdint.h>

// groups[i] = argmax_m logits[i, m] (first maximum wins; NaN never wins).
extern "C" __global__ void route_argmax(const float* __restrict__ logits, int* __restrict__ groups, int N, int M) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= N) return;
  const float* r = logits + (size_t)i * M;
  int best = 0;
  float bv = r[0];
  for (int m = 1; m < M; ++m) {
    const float x = r[m];
    if (x > bv || (bv != bv && x == x)) { bv = x; best = m; }
  }
  groups[i] = best;
}

// counts[groups[i]] += 1 (counts zeroed by the caller); a group id out of [0, M) is counted in
// counts[M] so the host can report it.
extern "C" __global__ void group_count(const int* __restrict__ groups, int* __restrict__ counts, int N, int M) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= N) return;
  const int g = groups[i];
  atomicAdd(counts + (g >= 0 && g < M ? g : M), 1);
}

// One block of 1024 threads: out[0] = 0, out[s+1] = sum_{t<=s} value(s), where value(s) =
// ceil(count / rows) and count = in[s] (mode 0: counts) or in[s+1] - in[s] (mode 1: offsets).
extern "C" __global__ void scan_tiles(const int* __restrict__ in, int* __restrict__ out, int S, int rows, int mode) {
  __shared__ int part[1024];
  const int t = threadIdx.x, per = (S + 1023) / 1024, b = t * per, e = min(S, b + per);
  int sum = 0;
  for (int s = b; s < e; ++s) {
    const int c = mode == 0 ? in[s] : in[s + 1] - in[s];
    sum += (c + rows - 1) / rows;
  }
  part[t] = sum;
  __syncthreads();
  for (int o = 1; o < 1024; o <<= 1) {  // Hillis-Steele inclusive scan of the partial sums
    const int x = t >= o ? part[t - o] : 0;
    __syncthreads();
    part[t] += x;
    __syncthreads();
  }
  int run = t == 0 ? 0 : part[t - 1];
  if (t == 0) out[0] = 0;
  for (int s = b; s < e; ++s) {
    const int c = mode == 0 ? in[s] : in[s + 1] - in[s];
    run += (c + rows - 1) / rows;
    out[s + 1] = run;
  }
}

// index[offsets[g] + k] = i for the k-th token of group g to arrive (cursor zeroed by the caller).
extern "C" __global__ void group_scatter(const int* __restrict__ groups, const int* __restrict__ offsets,
                                         int* __restrict__ cursor, int* __restrict__ index, int N, int M) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= N) return;
  const int g = groups[i];
  if (g < 0 || g >= M) return;
  index[offsets[g] + atomicAdd(cursor + g, 1)] = i;
}
