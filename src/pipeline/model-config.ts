/**
 * Validation of a model's config.json before anything is allocated: every field's type and range,
 * named by its path (`dit.eps must be ...`), and the weights' size against the machine's memory.
 * A negative eps or `layers: 100000` must be an error here, not a grey video or an out-of-memory
 * crash minutes later.
 */
import { totalmem } from 'node:os';
import { checkBranches } from '../attention/visual-attention.js';
import { checkNoiseCorrelation } from '../diffusion/noise.js';
import { checkSamplerConfig } from '../diffusion/sampler.js';
import { ditParamCount } from '../models/cost.js';
import { PREDICTIONS } from '../models/dit/objective.js';
import type { ModelConfig } from './model.js';

export const MODEL_FORMAT = 'moga-model';

export type CodecSpec = { readonly kind: 'vae'; readonly path: string } | { readonly kind: 'pool' };

export const CODECS: readonly CodecSpec['kind'][] = ['vae', 'pool'];

/** Refuses a codec spec that names no codec (listing the valid ones) or a VAE without its path. */
export function checkCodecSpec(spec: CodecSpec): void {
  const kind = (spec as { kind?: unknown } | undefined)?.kind;
  if (!CODECS.includes(kind as CodecSpec['kind']))
    throw new Error(
      `codec: unknown kind ${JSON.stringify(kind)} (valid: ${CODECS.join(', ')}; {"kind": "vae", "path": ...} or {"kind": "pool"})`,
    );
  if (spec.kind === 'vae' && (typeof spec.path !== 'string' || spec.path === ''))
    throw new Error('codec.path must name the VAE checkpoint');
}

/** Generous bounds: the Wan2.1-14B preset fits in all of them. */
const LIMITS = {
  dim: 65536,
  layers: 256,
  heads: 1024,
  ffnDim: 262144,
  latentChannels: 1024,
  patch: 16,
  textDim: 65536,
  textLen: 4096,
  freqDim: 65536,
  groups: 1024,
  window: 64,
  temporalGroup: 4096,
  adjacentFrames: 64,
  vocabSize: 1_000_000,
  maxLength: 4096,
  steps: 10_000,
  shift: 1000,
  guidance: 50,
} as const;

/** Throws `bad(message)` for the first field out of range; `bad` names the file. */
export function checkModelConfig(c: ModelConfig, bad: (m: string) => never): void {
  if (!c || typeof c !== 'object' || Array.isArray(c)) bad('expected a JSON object');
  if (c.format !== MODEL_FORMAT) bad(`format is ${JSON.stringify(c.format)}, expected "${MODEL_FORMAT}"`);
  if (c.version !== 1) bad(`version ${c.version} is not supported (expected 1)`);
  if (c.vocab !== 'v1') bad(`vocab ${JSON.stringify(c.vocab)} is not supported (expected "v1")`);
  const obj = (v: unknown, at: string) => {
    if (!v || typeof v !== 'object' || Array.isArray(v)) bad(`${at}: missing or not an object`);
  };
  const int = (v: unknown, at: string, lo: number, hi: number) => {
    if (!(typeof v === 'number' && Number.isInteger(v) && v >= lo && v <= hi))
      bad(`${at} must be an integer in [${lo}, ${hi}], got ${JSON.stringify(v)}`);
  };
  const num = (v: unknown, at: string, lo: number, hi: number, loOpen = false) => {
    if (!(typeof v === 'number' && Number.isFinite(v) && (loOpen ? v > lo : v >= lo) && v <= hi))
      bad(`${at} must be a number in ${loOpen ? '(' : '['}${lo}, ${hi}], got ${JSON.stringify(v)}`);
  };
  const L = LIMITS;
  // names that select code: an unknown one fails here, listing the valid ones
  const named = (f: () => void) => {
    try {
      f();
    } catch (e) {
      bad((e as Error).message);
    }
  };

  obj(c.dit, 'dit');
  const d = c.dit;
  int(d.dim, 'dit.dim', 1, L.dim);
  int(d.layers, 'dit.layers', 1, L.layers);
  int(d.heads, 'dit.heads', 1, L.heads);
  if (d.dim % d.heads || (d.dim / d.heads) % 2)
    bad(`dit.dim ${d.dim} must be dit.heads ${d.heads} times an even head width (rotary embedding)`);
  int(d.ffnDim, 'dit.ffnDim', 1, L.ffnDim);
  int(d.latentChannels, 'dit.latentChannels', 1, L.latentChannels);
  if (!Array.isArray(d.patch) || d.patch.length !== 3) bad('dit.patch must be [t, h, w]');
  for (let i = 0; i < 3; i++) int(d.patch[i], `dit.patch[${i}]`, 1, L.patch); // not forEach: it skips holes
  int(d.textDim, 'dit.textDim', 1, L.textDim);
  int(d.textLen, 'dit.textLen', 1, L.textLen);
  int(d.freqDim, 'dit.freqDim', 2, L.freqDim);
  if (d.freqDim % 2) bad(`dit.freqDim must be even (sin and cos halves), got ${d.freqDim}`);
  num(d.eps, 'dit.eps', 0, 0.1, true);
  obj(d.attention, 'dit.attention');
  const a = d.attention;
  if (!Array.isArray(a.branches) || a.branches.length === 0)
    bad(`dit.attention.branches must be a non-empty list, got ${JSON.stringify(a.branches)}`);
  named(() => checkBranches(a.branches));
  int(a.groups, 'dit.attention.groups', 1, L.groups);
  if (!Array.isArray(a.window) || a.window.length !== 2) bad('dit.attention.window must be [wy, wx]');
  for (let i = 0; i < 2; i++) int(a.window[i], `dit.attention.window[${i}]`, 1, L.window);
  int(a.temporalGroup, 'dit.attention.temporalGroup', 0, L.temporalGroup);
  int(a.adjacentFrames, 'dit.attention.adjacentFrames', 0, L.adjacentFrames);
  num(a.alpha, 'dit.attention.alpha', 0, 1000);
  if (d.conditioning !== undefined && typeof d.conditioning !== 'boolean')
    bad(`dit.conditioning must be true or false, got ${JSON.stringify(d.conditioning)}`);
  if (d.selfCondition !== undefined && typeof d.selfCondition !== 'boolean')
    bad(`dit.selfCondition must be true or false, got ${JSON.stringify(d.selfCondition)}`);

  obj(c.text, 'text');
  const t = c.text;
  int(t.vocabSize, 'text.vocabSize', 1, L.vocabSize);
  int(t.maxLength, 'text.maxLength', 2, L.maxLength);
  int(t.dim, 'text.dim', 1, L.dim);
  int(t.layers, 'text.layers', 1, L.layers);
  int(t.heads, 'text.heads', 1, L.heads);
  if (t.dim % t.heads) bad(`text.dim ${t.dim} is not divisible by text.heads ${t.heads}`);
  int(t.ffnDim, 'text.ffnDim', 1, L.ffnDim);
  int(t.textDim, 'text.textDim', 1, L.textDim);
  num(t.eps, 'text.eps', 0, 0.1, true);
  if (t.textDim !== d.textDim) bad(`text.textDim ${t.textDim} differs from dit.textDim ${d.textDim}`);

  named(() => checkCodecSpec(c.codec));
  if (c.prediction !== undefined && !PREDICTIONS.includes(c.prediction))
    bad(
      `prediction must be one of ${PREDICTIONS.map((p) => `"${p}"`).join(', ')}, got ${JSON.stringify(c.prediction)}`,
    );

  obj(c.sampling, 'sampling');
  const s = c.sampling;
  int(s.steps, 'sampling.steps', 1, L.steps);
  num(s.shift, 'sampling.shift', 0, L.shift, true);
  num(s.guidance, 'sampling.guidance', 0, L.guidance);
  if (s.guidanceUntil !== undefined) num(s.guidanceUntil, 'sampling.guidanceUntil', 0, 1);
  if (s.noiseCorrelation !== undefined && !checkNoiseCorrelation(s.noiseCorrelation))
    bad(`sampling.noiseCorrelation must be a number in [0, 1), got ${JSON.stringify(s.noiseCorrelation)}`);
  named(() => checkSamplerConfig(s.sampler));

  // the weights alone (float32 on the host) must fit in this machine's memory
  const bytes = 4 * modelParamCount(c);
  if (bytes > totalmem())
    bad(
      `the weights alone need ${(bytes / 2 ** 30).toFixed(1)} GiB (float32), more than this machine's ${(totalmem() / 2 ** 30).toFixed(1)} GiB of memory`,
    );
}

/** Parameters of the DiT and the text encoder (the latter to within its norms' few). */
export function modelParamCount(c: ModelConfig): number {
  const t = c.text;
  const text =
    (t.vocabSize + t.maxLength) * t.dim +
    t.layers * (4 * t.dim * t.dim + 2 * t.dim * t.ffnDim) +
    t.dim * t.textDim;
  return ditParamCount(c.dit) + text;
}
