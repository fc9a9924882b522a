/**
 * Kernel signatures read from the .cu sources (extern "C" __global__ entries, including those
 * stamped out by macros), so a launch's argument kinds can be checked without a GPU: a pointer
 * parameter takes `ptr`, int `i32`, float `f32`, long long `i64`, a struct by value `bytes`.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { KernelArg } from './driver-types.js';

export type ArgKind = 'ptr' | 'i32' | 'f32' | 'i64' | 'bytes';

export interface KernelSignature {
  readonly module: string;
  /** Exact name, or a pattern for macro-made names (## pieces become wildcards). */
  readonly name: RegExp;
  readonly params: readonly ArgKind[];
}

function kindOf(param: string): ArgKind {
  const p = param.replace(/__restrict__|const/g, ' ').trim();
  if (p.includes('*')) return 'ptr';
  if (/\b(long long|unsigned long long|int64_t|uint64_t|size_t)\b/.test(p)) return 'i64';
  if (/\b(int|unsigned|uint32_t|int32_t)\b/.test(p)) return 'i32';
  if (/\bfloat\b/.test(p)) return 'f32';
  return 'bytes';
}

export function parseSignatures(module: string, source: string): KernelSignature[] {
  const text = source.replace(/\\\n/g, ' ').replace(/\/\/[^\n]*/g, '');
  const re = /extern\s+"C"\s+__global__\s+void\s+(?:__launch_bounds__\([^)]*\)\s*)?([\w#]+)\s*\(([^)]*)\)/g;
  const out: KernelSignature[] = [];
  for (const m of text.matchAll(re)) {
    // `a_w##W##_d##D`: the upper-case pieces are macro parameters, matched as wildcards
    const pattern = m[1]
      .split('##')
      .map((s) => (/^[A-Z][A-Z0-9_]*$/.test(s) ? '\\w+' : s))
      .join('');
    const params = m[2]
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean)
      .map(kindOf);
    out.push({ module, name: new RegExp(`^${pattern}$`), params });
  }
  return out;
}

export function readSignatures(dir: string): KernelSignature[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.cu'))
    .flatMap((f) => parseSignatures(f.replace(/\.cu$/, ''), readFileSync(join(dir, f), 'utf8')));
}

export function argKind(a: KernelArg): ArgKind {
  return 'ptr' in a ? 'ptr' : 'i32' in a ? 'i32' : 'f32' in a ? 'f32' : 'i64' in a ? 'i64' : 'bytes';
}

/** Throws when the arguments do not match the kernel's declared parameters. */
export function checkArgs(
  sigs: readonly KernelSignature[],
  module: string,
  name: string,
  args: readonly KernelArg[],
): void {
  const sig = sigs.find((s) => s.module === module && s.name.test(name));
  if (!sig) throw new Error(`no kernel ${module}.${name} in the CUDA sources`);
  const got = args.map(argKind);
  if (got.length !== sig.params.length || got.some((k, i) => k !== sig.params[i]))
    throw new Error(
      `${module}.${name} takes (${sig.params.join(', ')}) but was launched with (${got.join(', ')})`,
    );
}
