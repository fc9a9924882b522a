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

  return {
    threads,
    run(name, argLists) {
      if (disposed) throw new Error('wasm pool: used after dispose()');
      const fn = main[name] as (...a: number[]) => void;
      const id = index.get(name);
      if (id === undefined || !fn) throw new Error(`wasm pool: no kernel export '${name}'`);
      if (argLists.length > 1 && !checked) awaitReady();
      const used = slots.slice(0, argLists.length - 1);
      used.forEach((s, i) => {
        const a = argLists[i + 1];
        if (a.length > MAX_ARGS) throw new Error(`wasm pool: ${a.length} arguments (max ${MAX_ARGS})`);
        s.args.set(a);
        s.ctrl[FN] = id;
        s.ctrl[NARGS] = a.length;
        Atomics.store(s.ctrl, SEQ, ++s.seq);
        Atomics.notify(s.ctrl, SEQ);
      });
      if (argLists.length > 0) fn(...argLists[0]);
      let failed = false;
      for (const s of used) {
        while (Atomics.load(s.ctrl, DONE) !== s.seq) Atomics.wait(s.ctrl, DONE, s.seq - 1, 1000);
        if (s.ctrl[ERROR]) failed = true;
      }
      if (failed) throw new Error(`wasm kernel '${name}' failed on a worker thread`);
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
