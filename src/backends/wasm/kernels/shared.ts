/**
 * Runs a work-sharing kernel (assembly/claim.ts) over the pool: a fresh job generation is written
 * to the shared control block, then every idle thread claims chunks until none are left; returns
 * when all `chunks` are finished. The kernel's arguments are (ctl, gen, chunks, ...args, ...tail(t)).
 */
import type { WasmCtx } from '../context.js';

export function runChunked(
  ctx: WasmCtx,
  name: string,
  chunks: number,
  args: readonly number[],
  tail: (thread: number) => readonly number[] = () => [],
): void {
  const ctl = ctx.sharedCtl;
  const gen = (ctx.nextGen() & 0x7fffffff) | 0;
  const i32 = ctx.heap.i32();
  // Generation first, then next chunk = 0 and finished = 0, all before any thread is woken.
  Atomics.store(i32, ctl / 4 + 1, gen);
  Atomics.store(i32, ctl / 4, 0);
  Atomics.store(i32, ctl / 4 + 2, 0);
  const head = [ctl, gen, chunks, ...args];
  ctx.pool.runShared(name, (t) => [...head, ...tail(t)], ctl + 8, chunks);
}
