/**
 * A model directory, what `moga generate --model` and `moga demo` load:
 *
 *   config.json        ModelConfig: DiT and text-encoder configs, the latent codec, sampling
 *                      defaults, and how it was trained (command, recipe, steps, loss)
 *   dit.safetensors    VideoDiT parameters
 *   text.safetensors   text-encoder parameters (frozen while the DiT trains; saved so the model is self-contained)
 *
 * The codec is either the VAE checkpoint named by `codec.path` (relative to the model directory,
 * so the bundled DiT shares models/vae-small/ instead of copying it) or the pool stand-in.
 * Every missing or corrupt file gives an error that names it and says what was expected.
 */
import { copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { SamplerConfig } from '../diffusion/sampler.js';
import { writeFileAtomic } from '../io/atomic-file.js';
import { loadParamsInto, saveParams } from '../io/params-file.js';
import { readSafetensors } from '../io/safetensors.js';
import { initVideoDiT, type VideoDiT } from '../models/dit/dit.js';
import type { Prediction } from '../models/dit/objective.js';
import type { DiTConfig } from '../models/presets.js';
import {
  type CaptionEncoder,
  initTextEncoder,
  learnedCaptionEncoder,
  type TextEncoderConfig,
  type TextEncoderParams,
} from '../models/text/encoder.js';
import { makeTokenizer, type Tokenizer } from '../models/text/tokenizer.js';
import { VOCAB_V1 } from '../models/text/vocab.js';
import { loadVae } from '../models/vae/checkpoint.js';
import { Rng } from '../tensor/random.js';
import { type LatentCodec, vaeCodec } from './codec.js';
import { poolCodec } from './pool-codec.js';

export const MODEL_FORMAT = 'moga-model';

export type CodecSpec = { readonly kind: 'vae'; readonly path: string } | { readonly kind: 'pool' };

export interface SamplingDefaults {
  readonly steps: number;
  readonly shift: number;
  readonly sampler: SamplerConfig;
  /** Classifier-free guidance scale (1 = conditional only, one DiT pass per step). */
  readonly guidance: number;
}

export interface ModelConfig {
  readonly format: typeof MODEL_FORMAT;
  readonly version: 1;
  readonly dit: DiTConfig;
  readonly text: TextEncoderConfig;
  /** Tokenizer vocabulary version (token ids are baked into the text encoder). */
  readonly vocab: 'v1';
  readonly codec: CodecSpec;
  readonly sampling: SamplingDefaults;
  /** What the DiT outputs (models/dit/objective.ts); absent = 'velocity', as Wan2.1. */
  readonly prediction?: Prediction;
  /** How the weights were made (free-form, for people). */
  readonly training?: Record<string, unknown>;
}

export interface MogaModel {
  readonly config: ModelConfig;
  readonly dit: VideoDiT;
  readonly text: TextEncoderParams;
  readonly tokenizer: Tokenizer;
  readonly captions: CaptionEncoder;
  readonly codec: LatentCodec;
  /** Where it was loaded from (undefined for an in-memory model). */
  readonly dir?: string;
}

export class ModelLoadError extends Error {
  constructor(where: string, problem: string) {
    super(`model ${where}: ${problem}`);
  }
}

/** A model with fresh weights (tests, and the start of training). */
export function initModel(config: ModelConfig, seed = 0, codec?: LatentCodec): MogaModel {
  checkModelConfig(config, 'config');
  const rng = new Rng(seed);
  const dit = initVideoDiT(config.dit, rng.fork(1));
  const text = initTextEncoder(rng.fork(2), config.text);
  return assemble(config, dit, text, codec ?? openCodec(config.codec, process.cwd()));
}

function assemble(
  config: ModelConfig,
  dit: VideoDiT,
  text: TextEncoderParams,
  codec: LatentCodec,
  dir?: string,
): MogaModel {
  const tokenizer = makeTokenizer(VOCAB_V1, config.text.maxLength);
  if (codec.channels !== config.dit.latentChannels)
    throw new ModelLoadError(
      dir ?? 'config',
      `the codec has ${codec.channels} latent channels but the DiT expects ${config.dit.latentChannels}`,
    );
  const captions = learnedCaptionEncoder(text, config.text, tokenizer);
  return { config, dit, text, tokenizer, captions, codec, dir };
}

function checkModelConfig(c: ModelConfig, where: string): void {
  const bad = (m: string) => {
    throw new ModelLoadError(where, m);
  };
  if (!c || typeof c !== 'object') bad('expected a JSON object');
  if (c.format !== MODEL_FORMAT) bad(`format is ${JSON.stringify(c.format)}, expected "${MODEL_FORMAT}"`);
  if (c.version !== 1) bad(`version ${c.version} is not supported (expected 1)`);
  if (c.vocab !== 'v1') bad(`vocab ${JSON.stringify(c.vocab)} is not supported (expected "v1")`);
  if (!c.dit || typeof c.dit.dim !== 'number') bad('dit: missing DiT config');
  if (!c.text || typeof c.text.dim !== 'number') bad('text: missing text-encoder config');
  if (c.text.textDim !== c.dit.textDim)
    bad(`text.textDim ${c.text.textDim} differs from dit.textDim ${c.dit.textDim}`);
  if (!c.codec || (c.codec.kind !== 'vae' && c.codec.kind !== 'pool'))
    bad(`codec must be {"kind": "vae", "path": ...} or {"kind": "pool"}, got ${JSON.stringify(c.codec)}`);
  if (c.codec.kind === 'vae' && typeof c.codec.path !== 'string')
    bad('codec.path must name the VAE checkpoint');
  if (c.prediction !== undefined && c.prediction !== 'velocity' && c.prediction !== 'data')
    bad(`prediction must be "velocity" or "data", got ${JSON.stringify(c.prediction)}`);
  const s = c.sampling;
  if (!s || !Number.isInteger(s.steps) || s.steps < 1) bad('sampling.steps must be a positive integer');
  if (!(s.shift > 0) || !(s.guidance >= 0)) bad('sampling.shift must be > 0 and sampling.guidance >= 0');
}

/** The codec a spec names; a VAE path is resolved against `base` (the model directory). */
export function openCodec(spec: CodecSpec, base: string): LatentCodec {
  if (spec.kind === 'pool') return poolCodec();
  const path = resolve(base, spec.path);
  if (!existsSync(path))
    throw new ModelLoadError(
      base,
      `the VAE checkpoint ${path} (codec.path ${JSON.stringify(spec.path)}) does not exist`,
    );
  try {
    return vaeCodec(loadVae(path).vae);
  } catch (e) {
    throw new ModelLoadError(base, `cannot load the VAE ${path}: ${(e as Error).message}`);
  }
}

/** Loads a model directory (see the file comment). */
export function loadModel(dir: string): MogaModel {
  if (!existsSync(dir)) throw new ModelLoadError(dir, 'directory does not exist');
  const cfgPath = join(dir, 'config.json');
  if (!existsSync(cfgPath)) throw new ModelLoadError(dir, 'config.json is missing');
  let config: ModelConfig;
  try {
    config = JSON.parse(readFileSync(cfgPath, 'utf8')) as ModelConfig;
  } catch (e) {
    throw new ModelLoadError(cfgPath, `not valid JSON: ${(e as Error).message}`);
  }
  checkModelConfig(config, cfgPath);
  const codec = openCodec(config.codec, dir);
  const rng = new Rng(0);
  const dit = initVideoDiT(config.dit, rng.fork(1));
  const text = initTextEncoder(rng.fork(2), config.text);
  for (const [file, tree] of [
    ['dit.safetensors', dit.params],
    ['text.safetensors', text],
  ] as const) {
    const path = join(dir, file);
    if (!existsSync(path)) throw new ModelLoadError(dir, `${file} is missing`);
    try {
      loadParamsInto(tree, readSafetensors(path), { source: path });
    } catch (e) {
      throw new ModelLoadError(path, (e as Error).message);
    }
  }
  return assemble(config, dit, text, codec, dir);
}

/**
 * Writes a model directory atomically: everything goes to `<dir>.tmp`, which then replaces `dir`.
 * Weights are stored as F16 by default (the bundled model stays small).
 */
export function saveModel(
  dir: string,
  model: Pick<MogaModel, 'config' | 'dit' | 'text'>,
  dtype: 'F16' | 'F32' = 'F16',
): void {
  const tmp = `${dir}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  writeFileAtomic(join(tmp, 'config.json'), `${JSON.stringify(model.config, null, 2)}\n`);
  saveParams(join(tmp, 'dit.safetensors'), model.dit.params, { dtype, metadata: { format: 'moga-dit' } });
  saveParams(join(tmp, 'text.safetensors'), model.text, { dtype, metadata: { format: 'moga-text-encoder' } });
  // the model card is written by people: it survives a re-export of the weights
  const card = join(dir, 'README.md');
  if (existsSync(card)) copyFileSync(card, join(tmp, 'README.md'));
  const old = `${dir}.old-${process.pid}`;
  if (existsSync(dir)) renameSync(dir, old);
  renameSync(tmp, dir);
  rmSync(old, { recursive: true, force: true });
}
