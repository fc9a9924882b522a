/**
 * Parameters are plain data: nested objects and arrays of tensors (a "params tree"), created by
 * `init*` functions and consumed by pure forward functions. Names for checkpoints come from the
 * tree path ("blocks.0.attn.q.weight"), like PyTorch state dicts.
 */
import { Tensor } from '../tensor/tensor.js';

export type Params = Tensor | readonly Params[] | { readonly [k: string]: Params | undefined };

/** [name, tensor] pairs in a stable order (object key order, array index order). */
export function namedParams(p: Params, prefix = ''): [string, Tensor][] {
  if (p instanceof Tensor) return [[prefix, p]];
  const out: [string, Tensor][] = [];
  const entries = Array.isArray(p) ? p.map((v, i) => [String(i), v] as const) : Object.entries(p);
  for (const [k, v] of entries)
    if (v !== undefined) out.push(...namedParams(v as Params, prefix ? `${prefix}.${k}` : k));
  return out;
}

export function paramList(p: Params): Tensor[] {
  return namedParams(p).map(([, t]) => t);
}

export function countParams(p: Params): number {
  return paramList(p).reduce((n, t) => n + t.size, 0);
}

/** Marks every parameter as requiring grad (for training) or not. */
export function trainable<P extends Params>(p: P, on = true): P {
  for (const t of paramList(p)) t.requiresGrad = on;
  return p;
}

export function disposeParams(p: Params): void {
  for (const t of paramList(p)) t.dispose();
}
