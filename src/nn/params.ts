/**
 * Parameters are plain data: nested objects and arrays of tensors (a "params tree"), created by
 * `init*` functions and consumed by pure forward functions. Names for checkpoints come from the
 * tree path ("blocks.0.attn.q.weight"), like PyTorch state dicts.
 */
import { Tensor } from '../tensor/tensor.js';

export type Params = Tensor | readonly Params[] | { readonly [k: string]: Params | undefined };

/**
 * What the functions below accept: a Params tree, or a typed one (VideoDiTParams, Linear...), whose
 * interfaces have no index signature and so are not assignable to Params.
 */
export type ParamTree = Params | object;

/** [name, tensor] pairs in a stable order (object key order, array index order). */
export function namedParams(p: ParamTree, prefix = ''): [string, Tensor][] {
  if (p instanceof Tensor) return [[prefix, p]];
  const out: [string, Tensor][] = [];
  const entries = Array.isArray(p) ? p.map((v, i) => [String(i), v] as const) : Object.entries(p);
  for (const [k, v] of entries)
    if (v !== undefined) out.push(...namedParams(v as Params, prefix ? `${prefix}.${k}` : k));
  return out;
}

export function paramList(p: ParamTree): Tensor[] {
  return namedParams(p).map(([, t]) => t);
}

export function countParams(p: ParamTree): number {
  return paramList(p).reduce((n, t) => n + t.size, 0);
}

/** Marks every parameter as requiring grad (for training) or not. */
export function trainable<P extends ParamTree>(p: P, on = true): P {
  for (const t of paramList(p)) t.requiresGrad = on;
  return p;
}

export function disposeParams(p: ParamTree): void {
  for (const t of paramList(p)) t.dispose();
}
