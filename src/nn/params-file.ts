/**
 * A params tree <-> a safetensors file, by name (`namedParams`: "blocks.0.attn.q.weight").
 * Loading writes into the tree's existing tensors, so anything holding them (an optimizer, EMA)
 * keeps pointing at the loaded values.
 */
import {
  isFloatDType,
  readSafetensors,
  type SafeDType,
  type SafeFile,
  type TensorToWrite,
  writeSafetensors,
} from '../io/safetensors.js';
import type { Tensor } from '../tensor/tensor.js';
import { namedParams, type ParamTree } from './params.js';

export function namedTensors(params: ParamTree): [string, Tensor][] {
  return namedParams(params);
}

/** Host copies of every tensor of the tree, ready to serialise. */
export function paramsToEntries(params: ParamTree, dtype: SafeDType = 'F32'): [string, TensorToWrite][] {
  return namedTensors(params).map(([name, t]) => {
    const data = t.dataSync();
    const dt: SafeDType = t.dtype === 'int32' ? 'I32' : dtype;
    return [name, { shape: t.shape, data, dtype: dt }];
  });
}

/** Saves a params tree atomically. Float tensors are stored as `dtype` (F32 unless asked). */
export function saveParams(
  path: string,
  params: ParamTree,
  opts: { metadata?: Record<string, string>; dtype?: SafeDType } = {},
): void {
  const entries = paramsToEntries(params, opts.dtype);
  writeSafetensors(path, entries, opts.metadata);
}

/**
 * Copies the tensors of `file` into `params`. Every name must match and every shape agree (unless
 * `strict` is false, which skips names missing on either side but still refuses a mis-shaped
 * tensor). Nothing is written unless the whole file fits.
 */
export function loadParamsInto(
  params: ParamTree,
  file: SafeFile,
  opts: { strict?: boolean; source?: string } = {},
): void {
  const strict = opts.strict ?? true;
  const source = opts.source ?? 'checkpoint';
  const named = namedTensors(params);
  const want = new Map(named);
  const missing = named.filter(([n]) => !file.tensors.has(n)).map(([n]) => n);
  const unexpected = [...file.tensors.keys()].filter((n) => !want.has(n));
  const misShaped: string[] = [];
  for (const [name, t] of named) {
    const f = file.tensors.get(name);
    if (!f) continue;
    const sameShape = f.shape.length === t.shape.length && f.shape.every((d, i) => d === t.shape[i]);
    if (!sameShape) misShaped.push(`${name} (file [${f.shape.join(', ')}], model [${t.shape.join(', ')}])`);
    else if (isFloatDType(f.dtype) !== (t.dtype === 'float32'))
      misShaped.push(`${name} (file ${f.dtype}, model ${t.dtype})`);
  }
  const problems: string[] = [];
  if (strict && missing.length) problems.push(`missing ${missing.length}: ${list(missing)}`);
  if (strict && unexpected.length) problems.push(`unexpected ${unexpected.length}: ${list(unexpected)}`);
  if (misShaped.length) problems.push(`mis-shaped ${misShaped.length}: ${list(misShaped)}`);
  if (problems.length) throw new Error(`${source} does not fit the model: ${problems.join('; ')}`);
  for (const [name, t] of named) {
    const f = file.tensors.get(name);
    if (f) t.backend.write(t.storage, f.data);
  }
}

/** Reads a safetensors file into `params` (see `loadParamsInto`); returns its metadata. */
export function loadParams(
  path: string,
  params: ParamTree,
  opts: { strict?: boolean } = {},
): Record<string, string> {
  const file = readSafetensors(path);
  loadParamsInto(params, file, { ...opts, source: path });
  return file.metadata;
}

function list(names: string[], max = 8): string {
  return names.length > max
    ? `${names.slice(0, max).join(', ')}, ... (${names.length - max} more)`
    : names.join(', ');
}
