/**
 * CUDA kernel files compiled for the host by g++ (with AddressSanitizer), as mock kernels: the
 * device source itself runs, thread by thread over the launch's grid, on the struct bytes the
 * host packed (the harness refuses a struct whose size differs from the C one). Kernels that use
 * shared memory or warp shuffles cannot run this way; movement.cu's strided copy (under five ops)
 * and conv.cu's im2col, col2im and block sum (under conv3d and its gradients) can. Without g++
 * there is nothing to build and the tests that need it are skipped.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { MockKernel, MockMemory } from './mock/driver.js';

const PRELUDE = (source: string) => `
#include <cstdio>
#include <cstring>
#include <vector>
struct Dim3 { unsigned x = 0, y = 1, z = 1; };
static Dim3 blockIdx, threadIdx, blockDim, gridDim;
#define __global__
#define __device__
#define __forceinline__ inline
#include "${resolve(source)}"
`;

/** Builds `source` with the harness `main` into an executable, or says why it cannot. */
function buildHost(name: string, source: string, main: string): { exe: string } | string {
  if (spawnSync('sh', ['-c', 'command -v g++'], { stdio: 'ignore' }).status !== 0) return 'g++ not found';
  const dir = mkdtempSync(join(tmpdir(), 'moga-cu-host-'));
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  const exe = join(dir, name);
  writeFileSync(join(dir, 'main.cpp'), PRELUDE(source) + main);
  const flags = ['-O1', '-g', '-std=c++17', '-fsanitize=address,undefined', '-fno-sanitize-recover=all'];
  const r = spawnSync('g++', [...flags, join(dir, 'main.cpp'), '-o', exe], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`g++ could not build ${source} for the host:\n${r.stderr}`);
  return { exe };
}

/** The whole allocation from p on, in 32-bit words, so a read or write past it is caught by the sanitizer. */
const wordsFrom = (mem: MockMemory, p: number) => {
  const b = mem.rest(p);
  return b.subarray(0, (b.length >> 2) * 4);
};

/** Runs the harness on the input; its stdout is written over `out`. */
function runHost(exe: string, what: string, input: Uint8Array[], out: Uint8Array) {
  const run = spawnSync(exe, { input: Buffer.concat(input), maxBuffer: 1 << 28 });
  if (run.status !== 0) throw new Error(`${what} on the host failed: ${run.stderr.toString()}`);
  out.set(run.stdout);
}

const int64s = (xs: number[]) => new Uint8Array(new BigInt64Array(xs.map(BigInt)).buffer);

const MOVEMENT_MAIN = `
// stdin: n, x words, y words, struct bytes, grid, block (int64 each); the struct; x; y. stdout: y.
int main() {
  long long h[6];
  if (fread(h, 8, 6, stdin) != 6) return 3;
  if (h[3] != (long long)sizeof(Strided)) {
    fprintf(stderr, "the host packed a %lld-byte Strided; the C struct has %zu bytes\\n", h[3], sizeof(Strided));
    return 2;
  }
  Strided p;
  std::vector<uint32_t> x(h[1]), y(h[2]);
  if (fread(&p, sizeof p, 1, stdin) != 1 || fread(x.data(), 4, h[1], stdin) != (size_t)h[1] ||
      fread(y.data(), 4, h[2], stdin) != (size_t)h[2]) return 3;
  gridDim.x = h[4];
  blockDim.x = h[5];
  for (blockIdx.x = 0; blockIdx.x < gridDim.x; ++blockIdx.x)
    for (threadIdx.x = 0; threadIdx.x < blockDim.x; ++threadIdx.x) strided_copy_32(x.data(), y.data(), h[0], p);
  fwrite(y.data(), 4, h[2], stdout);
  return 0;
}
`;

/** The host build of movement.cu as mock kernels, or why there is none. */
export function hostMovementKernels(): Record<string, MockKernel> | string {
  const built = buildHost('strided-copy', 'src/backends/cuda/kernels/movement.cu', MOVEMENT_MAIN);
  if (typeof built === 'string') return built;
  const strided_copy_32: MockKernel = (mem, [x, y, n, s], cfg, block) => {
    const [xs, ys] = [wordsFrom(mem, x), wordsFrom(mem, y)];
    const head = int64s([n, xs.length >> 2, ys.length >> 2, block.byteLength - s, cfg.grid[0], cfg.block[0]]);
    const struct = new Uint8Array(block.buffer, block.byteOffset + s, block.byteLength - s);
    runHost(built.exe, 'movement.cu', [head, struct, xs, ys], ys);
  };
  return { strided_copy_32 };
}

const CONV_MAIN = `
// stdin: kernel (0 conv_im2col, 1 conv_col2im, 2 conv_add_into), n, src words, dst words, struct
// bytes (0 for conv_add_into), grid, block (int64 each); the struct; src; dst. stdout: dst.
int main() {
  long long h[7];
  if (fread(h, 8, 7, stdin) != 7) return 3;
  const long long want = h[0] == 2 ? 0 : (long long)sizeof(ConvArgs);
  if (h[4] != want) {
    fprintf(stderr, "the host packed a %lld-byte ConvArgs; the C struct has %lld bytes\\n", h[4], want);
    return 2;
  }
  ConvArgs a;
  memset(&a, 0, sizeof a);
  std::vector<float> src(h[2]), dst(h[3]);
  if ((want && fread(&a, sizeof a, 1, stdin) != 1) || fread(src.data(), 4, h[2], stdin) != (size_t)h[2] ||
      fread(dst.data(), 4, h[3], stdin) != (size_t)h[3]) return 3;
  gridDim.x = h[5];
  blockDim.x = h[6];
  for (blockIdx.x = 0; blockIdx.x < gridDim.x; ++blockIdx.x)
    for (threadIdx.x = 0; threadIdx.x < blockDim.x; ++threadIdx.x) {
      if (h[0] == 0) conv_im2col(src.data(), dst.data(), h[1], a);
      else if (h[0] == 1) conv_col2im(src.data(), dst.data(), h[1], a);
      else conv_add_into(src.data(), dst.data(), h[1]);
    }
  fwrite(dst.data(), 4, h[3], stdout);
  return 0;
}
`;

/** The host build of conv.cu as mock kernels (conv_im2col, conv_col2im, conv_add_into), or why there is none. */
export function hostConvKernels(): Record<string, MockKernel> | string {
  const built = buildHost('conv', 'src/backends/cuda/kernels/conv.cu', CONV_MAIN);
  if (typeof built === 'string') return built;
  const kernel =
    (id: number, name: string): MockKernel =>
    (mem, [src, dst, n, s], cfg, block) => {
      const [xs, ys] = [wordsFrom(mem, src), wordsFrom(mem, dst)];
      const bytes = id === 2 ? 0 : block.byteLength - s;
      const head = int64s([id, n, xs.length >> 2, ys.length >> 2, bytes, cfg.grid[0], cfg.block[0]]);
      const struct = new Uint8Array(block.buffer, block.byteOffset + (id === 2 ? 0 : s), bytes);
      runHost(built.exe, `conv.cu ${name}`, [head, struct, xs, ys], ys);
    };
  return {
    conv_im2col: kernel(0, 'conv_im2col'),
    conv_col2im: kernel(1, 'conv_col2im'),
    conv_add_into: kernel(2, 'conv_add_into'),
  };
}
