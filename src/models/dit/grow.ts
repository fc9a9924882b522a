/**
 * Growing a trained DiT deeper without changing what it computes (a warm start for a bigger model).
 *
 * The trained blocks, embeddings and head are copied by name; each new block (index >= the source's
 * depth) is appended after them with its residual outputs (self-attention and FFN output
 * projections) zeroed, so it is the identity: the grown network gives exactly the source's output,
 * and training continues from there. adaLN-zero alone is not enough here: a new block's gates are
 * its modulation plus the shared time projection, which is trained and non-zero. The gates being
 * non-zero is also what lets the zeroed projections learn (their gradient is gate x input).
 */
import type { Params } from '../../nn/params.js';
import { namedParams } from '../../nn/params.js';
import type { VideoDiT } from './dit.js';

/** `weights`: the source DiT's tensors by name ("blocks.0.selfAttn.q.weight"). Returns the source depth. */
export function growDiT(dit: VideoDiT, weights: ReadonlyMap<string, Float32Array>): number {
  const blockOf = (name: string) => /^blocks\.(\d+)\./.exec(name);
  let depth = 0;
  for (const name of weights.keys()) {
    const m = blockOf(name);
    if (m) depth = Math.max(depth, Number(m[1]) + 1);
  }
  if (depth > dit.config.layers)
    throw new Error(`growDiT: the source has ${depth} blocks, more than the model's ${dit.config.layers}`);
  const problems: string[] = [];
  const named = namedParams(dit.params as unknown as Params);
  for (const [name, t] of named) {
    const m = blockOf(name);
    const isNew = m !== null && Number(m[1]) >= depth;
    const w = weights.get(name);
    if (isNew) {
      if (/\.(selfAttn\.o|ffn\.fc2)\.(weight|bias)$/.test(name))
        t.backend.write(t.storage, new Float32Array(t.size));
      continue;
    }
    if (!w) problems.push(`missing ${name}`);
    else if (w.length !== t.size)
      problems.push(`${name}: ${w.length} values in the source, ${t.size} in the model`);
    else t.backend.write(t.storage, w);
  }
  const known = new Set(named.map(([n]) => n));
  for (const name of weights.keys()) if (!known.has(name)) problems.push(`unexpected ${name}`);
  if (problems.length)
    throw new Error(`growDiT: the source does not fit the model: ${problems.slice(0, 6).join('; ')}`);
  return depth;
}
