/**
 * The allocator for the wasm heap: one shared WebAssembly.Memory, blocks handed out from a bump
 * pointer and recycled through free lists per size class (so a training loop that allocates the
 * same shapes every step reuses the same blocks and memory stays flat), growth by memory.grow.
 * Blocks are 64-byte aligned (cache lines; SIMD loads). Freed blocks are not coalesced: the
 * workloads here repeat their sizes, and a size class wastes at most 1/8 of a large block.
 */
import type { WasmMemory } from './wasm-api.js';

const ALIGN = 64;
const PAGE = 65536;

export interface Heap {
  readonly memory: WasmMemory;
  /** Zero-filled block of at least `bytes`; `internal` blocks (scratch) are not in liveBytes. */
  alloc(bytes: number, internal?: boolean): number;
  free(ptr: number): void;
  /** Bytes of live (non-internal) allocations, as requested. */
  liveBytes(): number;
  /** Bytes reserved from the memory so far (high-water mark of the bump pointer). */
  reservedBytes(): number;
  /** A Float32Array over the whole memory, re-created after growth. */
  f32(): Float32Array;
  i32(): Int32Array;
}

/** Rounds a request up to its size class: 64-byte steps to 4 KiB, then 8 classes per doubling. */
export function sizeClass(bytes: number): number {
  if (bytes <= 4096) return Math.max(ALIGN, Math.ceil(bytes / ALIGN) * ALIGN);
  const step = 2 ** (Math.floor(Math.log2(bytes)) - 3);
  return Math.ceil(bytes / step) * step;
}

/**
 * `zero(ptr, bytes)` clears a recycled block; pass the kernel module's bulk-memory fill (a typed-array
 * fill on shared memory goes element by element in V8, about 20x slower than memset).
 */
export function createHeap(
  memory: WasmMemory,
  base: number,
  zero: (ptr: number, bytes: number) => void = (p, n) => new Uint8Array(memory.buffer, p, n).fill(0),
): Heap {
  let top = Math.ceil(base / ALIGN) * ALIGN;
  const start = top;
  const freeLists = new Map<number, number[]>();
  // ptr -> [class size, requested bytes, internal]
  const blocks = new Map<number, { cls: number; bytes: number; internal: boolean }>();
  let live = 0;
  let f32 = new Float32Array(memory.buffer);
  let i32 = new Int32Array(memory.buffer);

  const refresh = () => {
    if (f32.buffer.byteLength !== memory.buffer.byteLength) {
      f32 = new Float32Array(memory.buffer);
      i32 = new Int32Array(memory.buffer);
    }
  };

  const ensure = (end: number) => {
    const have = memory.buffer.byteLength;
    if (end <= have) return;
    // Grow by at least a quarter of the current size so a growing workload grows rarely.
    const pages = Math.max(Math.ceil((end - have) / PAGE), Math.ceil(have / PAGE / 4));
    try {
      memory.grow(pages);
    } catch {
      throw new Error(`wasm heap: cannot grow memory to ${end} bytes (limit 4 GiB)`);
    }
    refresh();
  };

  return {
    memory,
    alloc(bytes: number, internal = false): number {
      if (!(bytes >= 0) || !Number.isFinite(bytes))
        throw new Error(`wasm heap: invalid allocation size ${bytes}`);
      let cls = sizeClass(bytes);
      // Its own class first, then the next two (at most ~25% more): shapes that vary a little
      // from step to step (sequence lengths) reuse each other's blocks instead of piling up.
      let ptr: number | undefined;
      for (let c = cls, i = 0; i < 3 && ptr === undefined; i++, c = sizeClass(c + 1)) {
        ptr = freeLists.get(c)?.pop();
        if (ptr !== undefined) cls = c;
      }
      if (ptr === undefined) {
        ensure(top + cls);
        ptr = top;
        top += cls;
      } else {
        zero(ptr, bytes);
      }
      blocks.set(ptr, { cls, bytes, internal });
      if (!internal) live += bytes;
      return ptr;
    },
    free(ptr: number): void {
      const b = blocks.get(ptr);
      if (!b) throw new Error(`wasm heap: free of ${ptr}, which is not an allocated block (double free?)`);
      blocks.delete(ptr);
      if (!b.internal) live -= b.bytes;
      let list = freeLists.get(b.cls);
      if (!list) freeLists.set(b.cls, (list = []));
      list.push(ptr);
    },
    liveBytes: () => live,
    reservedBytes: () => top - start,
    f32() {
      refresh();
      return f32;
    },
    i32() {
      refresh();
      return i32;
    },
  };
}
