/**
 * Tensor, memory scopes and op dispatch.
 *
 * Memory model: every tensor created inside `tidy(fn)` is freed when `fn` returns, except what `fn`
 * returns and what was `keep()`-ed. Tensors created outside any scope (parameters, optimizer state)
 * live until `dispose()`. Reshapes share storage; storage is freed when its last tensor is.
 *
 * Autodiff: an op whose input requires grad records a node on its outputs (PyTorch-style graph by
 * reference); `gradients()` in autodiff.ts walks it back. `noGrad(fn)` records nothing.
 */
import type { Backend, Storage, TensorRef } from '../backends/backend.js';
import { getBackend, readyBackend } from '../backends/registry.js';
import { type DType, dtypeOf, makeArray, type TypedArray } from '../core/dtype.js';
import { type Meta, OP_SPECS, type OpName, type OpParams } from '../core/op-spec.js';
import { fmt, type Shape, sizeOf } from '../core/shape.js';
import { NOT_DIFFERENTIABLE } from './grad-kind.js';

interface Buffer {
  readonly backend: Backend;
  readonly storage: Storage;
  refs: number;
}

export interface GradNode {
  readonly op: OpName;
  readonly inputs: readonly Tensor[];
  readonly outputs: readonly Tensor[];
  readonly params: unknown;
}

let nextId = 0;

export class Tensor implements TensorRef {
  readonly id = nextId++;
  requiresGrad = false;
  /** The op that made this tensor, when it was recorded for autodiff. */
  node: GradNode | undefined;
  /** Set by `backward()`. */
  grad: Tensor | undefined;
  private buf: Buffer | undefined;

  /** @internal Tensors come from fromArray, empty, full and the ops. */
  constructor(
    readonly shape: Shape,
    readonly dtype: DType,
    buf: Buffer,
  ) {
    this.buf = buf;
    track(this);
  }

  get backend(): Backend {
    return this.live().backend;
  }
  get storage(): Storage {
    return this.live().storage;
  }
  get size(): number {
    return sizeOf(this.shape);
  }
  get rank(): number {
    return this.shape.length;
  }
  get disposed(): boolean {
    return this.buf === undefined;
  }

  /** A copy of the contents (asynchronous, as GPU backends read back asynchronously). */
  data(): Promise<TypedArray> {
    const b = this.live();
    return b.backend.read(b.storage, this.dtype, this.size);
  }
  dataSync(): TypedArray {
    const b = this.live();
    return b.backend.readSync(b.storage, this.dtype, this.size);
  }
  /** The single element of a one-element tensor. */
  item(): number {
    if (this.size !== 1) throw new Error(`item() needs one element, tensor has shape ${fmt(this.shape)}`);
    return this.dataSync()[0];
  }

  dispose(): void {
    const b = this.buf;
    if (!b) return;
    this.buf = undefined;
    this.node = undefined;
    if (--b.refs === 0) b.backend.free(b.storage);
  }

  toString(): string {
    return `Tensor(${fmt(this.shape)}, ${this.dtype}, ${this.buf?.backend.name ?? 'disposed'})`;
  }

  private live(): Buffer {
    if (!this.buf) throw new Error(`use of a disposed tensor (shape ${fmt(this.shape)})`);
    return this.buf;
  }

  /** @internal Shares this tensor's storage under another shape (reshape). */
  shareAs(shape: Shape): Tensor {
    const b = this.live();
    b.refs++;
    return new Tensor(shape, this.dtype, b);
  }
}

// ---- creation ----

export function fromArray(
  data: TypedArray | readonly number[],
  shape: Shape,
  backend = getBackend(),
): Tensor {
  const arr = Array.isArray(data) ? Float32Array.from(data) : (data as TypedArray);
  if (arr.length !== sizeOf(shape))
    throw new Error(`data has ${arr.length} elements but shape ${fmt(shape)} needs ${sizeOf(shape)}`);
  const dtype = dtypeOf(arr);
  const storage = backend.alloc(dtype, arr.length);
  backend.write(storage, arr);
  return new Tensor([...shape], dtype, { backend, storage, refs: 1 });
}

export function empty(shape: Shape, dtype: DType = 'float32', backend = getBackend()): Tensor {
  for (const d of shape)
    if (!Number.isInteger(d) || d < 0)
      throw new Error(`invalid shape ${fmt(shape)}: sizes must be integers >= 0`);
  const storage = backend.alloc(dtype, sizeOf(shape));
  return new Tensor([...shape], dtype, { backend, storage, refs: 1 });
}

export function full(shape: Shape, value: number, dtype: DType = 'float32', backend = getBackend()): Tensor {
  const a = makeArray(dtype, sizeOf(shape));
  a.fill(value);
  return fromArray(a, shape, backend);
}

/** A copy of `t` on another backend (a name must be initialised already: see initBackend). */
export function toBackend(t: Tensor, to: Backend | string): Tensor {
  const b = typeof to === 'string' ? readyBackend(to) : to;
  if (!b) throw new Error(`toBackend: backend '${to}' is not initialised (await initBackend('${to}') first)`);
  return b === t.backend ? t.shareAs(t.shape) : fromArray(t.dataSync(), t.shape, b);
}

// ---- scopes ----

const scopes: Set<Tensor>[] = [];

function track(t: Tensor) {
  scopes.at(-1)?.add(t);
}

function collect(x: unknown, out: Set<Tensor>) {
  if (x instanceof Tensor) out.add(x);
  else if (Array.isArray(x)) for (const v of x) collect(v, out);
  else if (x && typeof x === 'object' && Object.getPrototypeOf(x) === Object.prototype)
    for (const v of Object.values(x)) collect(v, out);
}

/**
 * Runs `fn` in a memory scope: tensors it creates are freed at the end, except those reachable from
 * its result (tensors, arrays and plain objects of them), which move to the enclosing scope.
 */
export function tidy<T>(fn: () => T): T {
  const scope = new Set<Tensor>();
  scopes.push(scope);
  let result: T;
  try {
    result = fn();
  } finally {
    scopes.pop();
  }
  const kept = new Set<Tensor>();
  collect(result, kept);
  for (const t of scope) if (!kept.has(t)) t.dispose();
  for (const t of kept) if (scope.has(t)) track(t);
  return result;
}

/** Async variant of `tidy` for code that awaits (reading back from a GPU, writing files). */
export async function tidyAsync<T>(fn: () => Promise<T>): Promise<T> {
  const scope = new Set<Tensor>();
  scopes.push(scope);
  let result: T;
  try {
    result = await fn();
  } finally {
    scopes.splice(scopes.lastIndexOf(scope), 1);
  }
  const kept = new Set<Tensor>();
  collect(result, kept);
  for (const t of scope) if (!kept.has(t)) t.dispose();
  for (const t of kept) if (scope.has(t)) track(t);
  return result;
}

/** Removes tensors from every enclosing scope so they outlive it (the caller must dispose them). */
export function keep<T extends Tensor | Tensor[]>(x: T): T {
  for (const t of Array.isArray(x) ? x : [x]) for (const s of scopes) s.delete(t);
  return x;
}

// ---- autodiff switch ----

let gradEnabled = true;

/** Runs `fn` without recording anything for autodiff. */
export function noGrad<T>(fn: () => T): T {
  const prev = gradEnabled;
  gradEnabled = false;
  try {
    return fn();
  } finally {
    gradEnabled = prev;
  }
}

/**
 * `tidy(fn)` when autodiff is off, plain `fn()` when it is on (backward needs the intermediates).
 * Inference code wraps its stages in it so only one stage's temporaries are alive at a time.
 */
export function tidyIfNoGrad<T>(fn: () => T): T {
  return gradEnabled ? fn() : tidy(fn);
}

/** Disposes `t` when autodiff is off (an inference intermediate nothing reads again); else keeps it for backward. */
export function disposeIfNoGrad(t: Tensor | undefined): void {
  if (!gradEnabled) t?.dispose();
}

export function isGradEnabled(): boolean {
  return gradEnabled;
}

// ---- dispatch ----

/** Runs a primitive op: checks shapes, allocates outputs, calls the backend, records autodiff. */
export function apply<K extends OpName>(op: K, inputs: readonly Tensor[], params: OpParams[K]): Tensor[] {
  const backend = inputs[0].backend;
  for (const t of inputs)
    if (t.backend !== backend)
      throw new Error(
        `${op}: inputs live on different backends (${backend.name} and ${t.backend.name}); a tensor stays on the backend it was made on: make every input after the same setBackend() (or on the model's backend, model.backend), or move one with toBackend(tensor, '${backend.name}')`,
      );
  let metas: Meta[];
  try {
    metas = (OP_SPECS[op] as (ins: readonly Meta[], p: OpParams[K]) => Meta[])(inputs, params);
  } catch (e) {
    throw new Error(`${op}: ${(e as Error).message} (inputs ${inputs.map((t) => fmt(t.shape)).join(', ')})`);
  }
  const outputs =
    op === 'reshape'
      ? [inputs[0].shareAs(metas[0].shape)]
      : metas.map((m) => empty(m.shape, m.dtype, backend));
  if (op !== 'reshape') backend.run(op, inputs, outputs, params);
  if (gradEnabled && !NOT_DIFFERENTIABLE.has(op) && inputs.some((t) => t.requiresGrad)) {
    const node: GradNode = { op, inputs, outputs, params };
    for (const o of outputs) {
      o.requiresGrad = o.dtype === 'float32';
      o.node = node;
    }
  }
  return outputs;
}
