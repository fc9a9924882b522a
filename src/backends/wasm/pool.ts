/**
 * A pool of worker threads over the one shared memory. Each worker instantiates the same compiled
 * module against that memory and waits on an Int32Array cell; the caller writes a job (export
 * name index plus numeric arguments), bumps the cell and notifies, runs its own share on its own
 * thread, then blocks in Atomics.wait until every worker has finished (Node allows Atomics.wait on
 * the main thread). So a kernel call stays synchronous for the tensor layer.
 * Workers are unref()'d: an idle pool never keeps the process alive.
 */
import { Worker } from 'node:worker_threads';
import type { WasmExports, WasmMemory, WasmModule } from './wasm-api.js';

// Cells of each worker's control block.
const SEQ = 0; // job number written by the caller (-1: stop)
const DONE = 1; // last job number finished by the worker
const FN = 2; // index into `names`
const NARGS = 3;
const ERROR = 4; // 1 when the last job threw
const READY = 5; // 1 once instantiated, -1 when instantiation failed
const CELLS = 8;
const MAX_ARGS = 24;

// Plain JS evaluated in the worker (no TypeScript loader there, so it works from src/ and dist/ alike).
const WORKER_SOURCE = `
const { workerData } = require('node:worker_threads');
const { module, memory, ctrl, args, names } = workerData;
let fns;
try {
  const inst = new WebAssembly.Instance(module, { env: { memory, abort() { throw new Error('wasm abort'); } } });
  fns = names.map((n) => inst.exports[n]);
  Atomics.store(ctrl, ${READY}, 1);
} catch (e) {
  Atomics.store(ctrl, ${READY}, -1);
}
Atomics.notify(ctrl, ${READY});
let seen = 0;
while (fns) {
  Atomics.wait(ctrl, ${SEQ}, seen);
  seen = Atomics.load(ctrl, ${SEQ});
  if (seen < 0) break;
  try {
    fns[ctrl[${FN}]](...args.subarray(0, ctrl[${NARGS}]));
    ctrl[${ERROR}] = 0;
  } catch (e) {
    ctrl[${ERROR}] = 1;
  }
  Atomics.store(ctrl, ${DONE}, seen);
  Atomics.notify(ctrl, ${DONE});
}
`;

export interface Pool {
  /** Threads that take part in a split job, the caller's included. */
  readonly threads: number;
  /**
   * Runs export `name` once per argument list: list 0 on the calling thread, list i on worker i-1;
   * returns when all are done. Fewer lists than threads leave the rest idle.
   */
  run(name: string, argLists: readonly (readonly number[])[]): void;
  /**
   * Work-sharing run: export `name` gets `argsFor(0)` on the calling thread and `argsFor(i)` on each
   * worker i that is idle now (a worker still waking up for an earlier shared job is skipped).
   * Returns once the int32 cell at byte offset `doneAt` of the memory reaches `target`; the kernel
   * counts finished work there, so the caller never waits for a worker that took none.
   */
  runShared(
    name: string,
    argsFor: (thread: number) => readonly number[],
    doneAt: number,
    target: number,
  ): void;
  dispose(): void;
}

interface Slot {
  worker: Worker;
  ctrl: Int32Array;
  args: Float64Array;
  seq: number;
}

export function createPool(
  module: WasmModule,
  memory: WasmMemory,
  main: WasmExports,
  names: readonly string[],
  threads: number,
): Pool {
  const index = new Map(names.map((n, i) => [n, i]));
  const slots: Slot[] = [];
  for (let i = 1; i < threads; i++) {
    const ctrl = new Int32Array(new SharedArrayBuffer(CELLS * 4));
    const args = new Float64Array(new SharedArrayBuffer(MAX_ARGS * 8));
    const worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { module, memory, ctrl, args, names },
      execArgv: [],
    });
    worker.unref();
    slots.push({ worker, ctrl, args, seq: 0 });
  }
  let checked = false;
  let disposed = false;

  const awaitReady = () => {
    for (const s of slots) {
      Atomics.wait(s.ctrl, READY, 0, 30_000);
      const r = Atomics.load(s.ctrl, READY);
      if (r !== 1)
        throw new Error(
          r === 0 ? 'wasm worker did not start within 30 s' : 'wasm worker failed to instantiate the kernels',
        );
    }
    checked = true;
  };

  const idle = (s: Slot) => Atomics.load(s.ctrl, DONE) === s.seq;
  const waitIdle = (s: Slot) => {
    while (!idle(s)) Atomics.wait(s.ctrl, DONE, s.seq - 1, 1000);
  };
  const failed = (s: Slot) => idle(s) && s.ctrl[ERROR] !== 0;
  // A slot's arguments are written only while it is idle: a worker never reads half-written ones.
  const dispatch = (s: Slot, id: number, a: readonly number[]) => {
    if (a.length > MAX_ARGS) throw new Error(`wasm pool: ${a.length} arguments (max ${MAX_ARGS})`);
    s.args.set(a);
    s.ctrl[FN] = id;
    s.ctrl[NARGS] = a.length;
    Atomics.store(s.ctrl, SEQ, ++s.seq);
    Atomics.notify(s.ctrl, SEQ);
  };
  const lookup = (name: string): [number, (...a: number[]) => void] => {
    if (disposed) throw new Error('wasm pool: used after dispose()');
    const fn = main[name] as (...a: number[]) => void;
    const id = index.get(name);
    if (id === undefined || !fn) throw new Error(`wasm pool: no kernel export '${name}'`);
    if (slots.length > 0 && !checked) awaitReady();
    return [id, fn];
  };

  return {
    threads,
    run(name, argLists) {
      const [id, fn] = lookup(name);
      if (argLists.length > threads)
        throw new Error(`wasm pool: ${argLists.length} jobs for ${threads} threads`);
      const used = slots.slice(0, argLists.length - 1);
      used.forEach((s, i) => {
        waitIdle(s);
        dispatch(s, id, argLists[i + 1]);
      });
      if (argLists.length > 0) fn(...argLists[0]);
      for (const s of used) waitIdle(s);
      if (used.some(failed)) throw new Error(`wasm kernel '${name}' failed on a worker thread`);
    },
    runShared(name, argsFor, doneAt, target) {
      const [id, fn] = lookup(name);
      const used: Slot[] = [];
      slots.forEach((s, i) => {
        if (!idle(s)) return;
        dispatch(s, id, argsFor(i + 1));
        used.push(s);
      });
      try {
        fn(...argsFor(0));
      } catch (e) {
        // Workers may still be inside claimed chunks: let them finish before the caller frees buffers.
        for (const s of used) waitIdle(s);
        throw e;
      }
      // Kernels never grow the memory, so this view stays valid while we wait.
      const cells = new Int32Array(memory.buffer);
      const at = doneAt / 4;
      for (let d = Atomics.load(cells, at); d < target; d = Atomics.load(cells, at)) {
        if (used.some(failed)) throw new Error(`wasm kernel '${name}' failed on a worker thread`);
        Atomics.wait(cells, at, d, 20);
      }
    },
    dispose() {
      if (disposed) return;
      disposed = true;
      for (const s of slots) {
        Atomics.store(s.ctrl, SEQ, -1);
        Atomics.notify(s.ctrl, SEQ);
        void s.worker.terminate();
      }
    },
  };
}
