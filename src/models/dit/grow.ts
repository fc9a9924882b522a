/**
 * Growing a trained DiT deeper without changing what it computes (a warm start for a bigger model).
 *
 * The trained blocks, embeddings and head are copied by name; each new block (index >= the source's
 * depth) is appended after them with its residual outputs (self-attention and FFN output
 * projections) zeroed, so it is the identity: the grown network gives exactly the source's output,
 * and training continues from there. adaLN-zero alone is not enough here: a new block's gates are
 * its modulation plus the shared time projection, which is trained and non-zero. The gates being
 * non-zero is also what lets the zeroed projections learn (their gradient is gate x input).
 * Growing an unconditioned DiT into one with `config.conditioning` works the same way: the patch
 * embedding's x_t columns are copied and its conditioning columns zeroed, so the grown model gives
 * the source's output whatever frames are given, until it is trained; the same holds for
 * `config.selfCondition`'s columns (whatever previous estimate is passed). A model without the routed
 * branch takes a MoGA source's weights but its routers. A wider feed-forward layer (`ffnDim` above
 * the source's) keeps the trained hidden units first; the new ones keep their random input weights
 * (so they are active and get gradient) and start with zero output weights (so they add nothing).
 * A cell head (config.cellHead) the source lacks starts as initialised: its last convolution is
 * zero, so it adds nothing either. A model with 1x1x1 patches takes a source with coarser ones: its
 * patch embedding sums the source's over the patch positions (a flat patch embeds as before) and its
 * head averages the source's rows over them (each cell gets its token's mean): the grown model
 * paints what the source painted, one cell per token, before it learns the detail inside.
 */
import type { Params } from '../../nn/params.js';
import { namedParams } from '../../nn/params.js';
import { padColumns, type VideoDiT } from './dit.js';

/** `source`: the source DiT's tensors by name ("blocks.0.selfAttn.q.weight"). Returns the source depth. */
export function growDiT(dit: VideoDiT, source: ReadonlyMap<string, Float32Array>): number {
  const blockOf = (name: string) => /^blocks\.(\d+)\./.exec(name);
  let depth = 0;
  for (const name of source.keys()) {
    const m = blockOf(name);
    if (m) depth = Math.max(depth, Number(m[1]) + 1);
  }
  if (depth > dit.config.layers)
    throw new Error(`growDiT: the source has ${depth} blocks, more than the model's ${dit.config.layers}`);
  const problems: string[] = [];
  const named = namedParams(dit.params as unknown as Params);
  const { latentChannels: C, patch, dim } = dit.config;
  const cells = patch[0] * patch[1] * patch[2];
  const sourceCells = (source.get('head.proj.weight')?.length ?? dim * C * cells) / (dim * C);
  const coarser = Number.isInteger(sourceCells) && sourceCells > cells;
  if (coarser && cells !== 1)
    throw new Error(
      `growDiT: a source with ${sourceCells} cells per patch fits only a model with 1x1x1 patches`,
    );
  const weights = coarser ? unpatched(source, sourceCells, C, dim) : source;
  for (const [name, t] of named) {
    const m = blockOf(name);
    const isNew = m !== null && Number(m[1]) >= depth;
    const w = weights.get(name);
    if (isNew) {
      if (/\.(selfAttn\.o|ffn\.fc2)\.(weight|bias)$/.test(name))
        t.backend.write(t.storage, new Float32Array(t.size));
      continue;
    }
    if (!w && name.startsWith('cellHead.')) continue; // a new cell head: its last conv is zero
    if (!w) problems.push(`missing ${name}`);
    else if (name === 'patchEmbed.weight' && w.length < t.size) {
      // a source with fewer input channels (no conditioning, no self-conditioning): its columns
      // are a prefix of the model's (x_t, then given frames, then the previous estimate: dit.ts),
      // the new ones zero
      const [out, inDim] = t.shape;
      const prefixes = [C, ...(dit.config.conditioning ? [2 * C + 1] : [])].map((ch) => out * ch * cells);
      if (!prefixes.includes(w.length))
        problems.push(
          `${name}: ${w.length} values in the source, ${prefixes.join(' or ')} (fewer inputs) or ${t.size} in the model`,
        );
      else t.backend.write(t.storage, padColumns(w, out, inDim));
    } else if (/\.ffn\.fc[12]\.(weight|bias)$/.test(name) && w.length < t.size) {
      const widened = widenFfn(name, t.shape, w, t.dataSync() as Float32Array);
      if (typeof widened === 'string') problems.push(widened);
      else t.backend.write(t.storage, widened);
    } else if (w.length !== t.size)
      problems.push(`${name}: ${w.length} values in the source, ${t.size} in the model`);
    else t.backend.write(t.storage, w);
  }
  const known = new Set(named.map(([n]) => n));
  // a model without the routed branch (an attention ablation warm-started from a MoGA model) has
  // no routers; the rest of self-attention (q, k, v, o) is shared by every branch, so it loads
  const routers = !dit.config.attention.branches.includes('routed');
  for (const name of weights.keys())
    if (!known.has(name) && !(routers && /\.selfAttn\.router\./.test(name)))
      problems.push(`unexpected ${name}`);
  if (problems.length)
    throw new Error(`growDiT: the source does not fit the model: ${problems.slice(0, 6).join('; ')}`);
  return depth;
}

/**
 * The source's patch embedding [dim, Cin, cells] summed over its patch cells and its head
 * [cells * C (position major), dim] and bias averaged over them: the same weights for 1x1x1 patches.
 */
function unpatched(
  weights: ReadonlyMap<string, Float32Array>,
  cells: number,
  C: number,
  dim: number,
): ReadonlyMap<string, Float32Array> {
  const out = new Map(weights);
  const embed = weights.get('patchEmbed.weight');
  if (embed) {
    const cin = embed.length / (dim * cells);
    const w = new Float32Array(dim * cin);
    for (let o = 0; o < dim * cin; o++) for (let k = 0; k < cells; k++) w[o] += embed[o * cells + k];
    out.set('patchEmbed.weight', w);
  }
  for (const [name, rows] of [
    ['head.proj.weight', dim],
    ['head.proj.bias', 1],
  ] as const) {
    const h = weights.get(name);
    if (!h) continue;
    const w = new Float32Array(C * rows);
    for (let k = 0; k < cells; k++) for (let i = 0; i < C * rows; i++) w[i] += h[k * C * rows + i] / cells;
    out.set(name, w);
  }
  return out;
}

/**
 * A trained feed-forward tensor `w` placed in a wider one of `shape`: fc1 [hidden, dim] and its bias
 * [hidden] take the source's units first and keep `init` for the new ones; fc2 [dim, hidden] takes
 * them first in every row and zero for the new ones. Returns an error message when `w` does not fit.
 */
function widenFfn(
  name: string,
  shape: readonly number[],
  w: Float32Array,
  init: Float32Array,
): Float32Array | string {
  const misfit = `${name}: ${w.length} values in the source, ${init.length} in the model`;
  if (name.includes('.fc2.weight')) {
    const [rows, hidden] = shape;
    return Number.isInteger(w.length / rows) ? padColumns(w, rows, hidden) : misfit;
  }
  if (name.includes('.fc2.')) return misfit; // fc2's bias is [dim]: its width does not change
  const cols = shape.length > 1 ? shape[1] : 1;
  if (w.length % cols !== 0) return misfit;
  const dst = Float32Array.from(init);
  dst.set(w);
  return dst;
}
