/**
 * movement.cu's kernel compiled for the host by g++ (with AddressSanitizer), as a mock kernel: the
 * device source itself runs, thread by thread over the launch's grid, on the struct bytes the
 * host packed (the harness refuses a struct whose size differs from the C one). Kernels that use
 * shared memory or warp shuffles cannot run this way; movement.cu's strided copy can, and it is
 * under five ops. Without g++ there is nothing to build and the tests that need it are skipped.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { MockKernel } from './mock/driver.js';

const HARNESS = (source: string) => `
#include <cstdio>
#include <cstring>
#include <vector>
struct Dim3 { unsigned x = 0, y = 1, z = 1; };
static Dim3 blockIdx, threadIdx, blockDim, gridDim;
#define __global__
#define __device__
#define __forceinline__ inline
#include "${source}"
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
  if (spawnSync('sh', ['-c', 'command -v g++'], { stdio: 'ignore' }).status !== 0) return 'g++ not found';
  const dir = mkdtempSync(join(tmpdir(), 'moga-cu-host-'));
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  const exe = join(dir, 'strided-copy');
  writeFileSync(join(dir, 'main.cpp'), HARNESS(resolve('src/backends/cuda/kernels/movement.cu')));
  const flags = ['-O1', '-g', '-std=c++17', '-fsanitize=address,undefined', '-fno-sanitize-recover=all'];
  const r = spawnSync('g++', [...flags, join(dir, 'main.cpp'), '-o', exe], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`g++ could not build movement.cu for the host:\n${r.stderr}`);
  const strided_copy_32: MockKernel = (mem, [x, y, n, s], cfg, block) => {
    // the whole allocations behind x and y, so a read or write past them is caught by the sanitizer
    const xs = mem.rest(x);
    const ys = mem.rest(y);
    const head = new BigInt64Array(
      [n, xs.length >> 2, ys.length >> 2, block.byteLength - s, cfg.grid[0], cfg.block[0]].map(BigInt),
    );
    const input = Buffer.concat([
      new Uint8Array(head.buffer),
      new Uint8Array(block.buffer, block.byteOffset + s, block.byteLength - s),
      xs.subarray(0, (xs.length >> 2) * 4),
      ys.subarray(0, (ys.length >> 2) * 4),
    ]);
    const run = spawnSync(exe, { input, maxBuffer: 1 << 28 });
    if (run.status !== 0) throw new Error(`movement.cu on the host failed: ${run.stderr.toString()}`);
    ys.set(run.stdout);
  };
  return { strided_copy_32 };
}
