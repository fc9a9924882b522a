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
import { copyFileSync, existsSync, mkdirSync, readFileSync, realpathSync, renameSync, rmSync } from 'node:fs';
import { basename, dirname, join, resolve, sep } from 'node:path';
import type { Backend } from '../backends/backend.js';
import { ensureBackend, getBackend, initBackend, withBackend } from '../backends/index.js';
import type { SamplerConfig } from '../diffusion/sampler.js';
import { writeFileAtomic } from '../io/atomic-file.js';
import { firstNonFinite } from '../io/non-finite.js';
import { readSafetensors } from '../io/safetensors.js';
import { implausibleWeights } from '../io/weight-check.js';
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
import { disposeParams, paramList } from '../nn/params.js';
import { loadParamsInto, saveParams } from '../nn/params-file.js';
import { Rng } from '../tensor/random.js';
import { packageRoot } from './bundled.js';
import { type LatentCodec, vaeCodec } from './codec.js';
import { CODECS, type CodecSpec, checkCodecSpec, checkModelConfig, MODEL_FORMAT } from './model-config.js';
import { poolCodec } from './pool-codec.js';

export { CODECS, type CodecSpec, checkCodecSpec, MODEL_FORMAT };

export interface SamplingDefaults {
  readonly steps: number;
  readonly shift: number;
  readonly sampler: SamplerConfig;
  /** Classifier-free guidance scale (1 = conditional only, one DiT pass per step). */
  readonly guidance: number;
  /** Guide only while t > this (objective.ts `samplingVelocity`); absent: 0, every step. */
  readonly guidanceUntil?: number;
  /** Correlation of the starting noise between a shot's latent frames (diffusion/noise.ts); absent: 0. */
  readonly noiseCorrelation?: number;
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
  /** The backend its weights live on; generate() runs there. */
  readonly backend: Backend;
  /** Frees its weights (DiT, text encoder, VAE); the model cannot be used afterwards. */
  dispose(): void;
}

export interface LoadModelOptions {
  /**
   * The backend to load onto (native | wasm | ref | cuda). Default: the one set with setBackend(),
   * else the best available here (native, wasm, ref), which then becomes the current backend.
   */
  readonly backend?: string;
}

export class ModelLoadError extends Error {
  constructor(where: string, problem: string) {
    super(`model ${where}: ${problem}`);
  }
}

/** A model with fresh weights (tests, and the start of training). */
export function initModel(config: ModelConfig, seed = 0, codec?: LatentCodec): MogaModel {
  checkConfig(config, 'config');
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
  const backend = paramList(dit.params)[0]?.backend ?? getBackend();
  const dispose = () => {
    disposeParams(dit.params);
    disposeParams(text);
    codec.dispose();
  };
  return { config, dit, text, tokenizer, captions, codec, dir, backend, dispose };
}

/** The config's fields in range (model-config.ts), or a ModelLoadError naming `where` and the field. */
function checkConfig(c: ModelConfig, where: string): void {
  checkModelConfig(c, (m) => {
    throw new ModelLoadError(where, m);
  });
}

/**
 * The codec a spec names. A VAE path is resolved against `base` (the model directory, or the working
 * directory for a training recipe), else against moga's package root, so a recipe naming
 * `models/vae-small/vae.safetensors` also finds the bundled VAE from a user's project. With
 * `within`, the path must stay inside one of those folders, before and after symlinks; it is
 * refused before it is opened, so the error says nothing about what lies outside.
 */
export function openCodec(spec: CodecSpec, base: string, within?: readonly string[]): LatentCodec {
  if (spec.kind === 'pool') return poolCodec();
  const outside = () =>
    new ModelLoadError(
      base,
      `codec.path ${JSON.stringify(spec.path)} points outside ${within!.join(' and ')}; a model's VAE must live in its directory or beside it in models/`,
    );
  const tried = within
    ? [resolve(base, spec.path)]
    : [resolve(base, spec.path), resolve(packageRoot(), spec.path)];
  if (within && !isInside(tried[0], within)) throw outside();
  const path = tried.find((p) => existsSync(p));
  if (!path)
    throw new ModelLoadError(
      base,
      `the VAE checkpoint named by codec.path ${JSON.stringify(spec.path)} does not exist (looked for ${[...new Set(tried)].join(' and ')})`,
    );
  if (
    within &&
    !isInside(
      realpathSync(path),
      within.map((r) => realpathSync(r)),
    )
  )
    throw outside();
  try {
    return vaeCodec(loadVae(path).vae);
  } catch (e) {
    throw new ModelLoadError(base, `cannot load the VAE ${path}: ${(e as Error).message}`);
  }
}

/**

 * Where a model's VAE may live: its own directory, and the models/ folder holding it (the bundled
 * models/dit-tiny names ../vae-small/vae.safetensors).
 */
/** Whether `path` (absolute) lies inside one of `roots`. */
export function isInside(path: string, roots: readonly string[]): boolean {
  return roots.some((r) => path.startsWith(r + sep));
}

export function codecRoots(dir: string): string[] {
  const own = resolve(dir);
  const parent = dirname(own);
  return basename(parent) === 'models' ? [own, parent] : [own];
}

/**
 * Loads a model directory (see the file comment) onto `opts.backend`, else onto the backend set with
 * setBackend(), else onto the best one available here (chosen now, and then the current backend).
 */
export async function loadModel(dir: string, opts: LoadModelOptions = {}): Promise<MogaModel> {
  const backend = opts.backend ? await initBackend(opts.backend) : await ensureBackend();
  return withBackend(backend, () => readModelDir(dir));
}

function readModelDir(dir: string): MogaModel {
  if (!existsSync(dir)) throw new ModelLoadError(dir, 'directory does not exist');
  const cfgPath = join(dir, 'config.json');
  if (!existsSync(cfgPath)) throw new ModelLoadError(dir, 'config.json is missing');
  let config: ModelConfig;
  try {
    config = JSON.parse(readFileSync(cfgPath, 'utf8')) as ModelConfig;
  } catch (e) {
    throw new ModelLoadError(cfgPath, `not valid JSON: ${(e as Error).message}`);
  }
  checkConfig(config, cfgPath);
  const codec = openCodec(config.codec, dir, codecRoots(dir));
  const rng = new Rng(0);
  const dit = initVideoDiT(config.dit, rng.fork(1));
  const text = initTextEncoder(rng.fork(2), config.text);
  const model = assemble(config, dit, text, codec, dir);
  try {
    for (const [file, tree] of [
      ['dit.safetensors', dit.params],
      ['text.safetensors', text],
    ] as const) {
      const path = join(dir, file);
      if (!existsSync(path)) throw new ModelLoadError(dir, `${file} is missing`);
      try {
        const weights = readSafetensors(path);
        const wrong = firstNonFinite(weights) ?? implausibleWeights(weights);
        if (wrong) throw new Error(wrong);
        loadParamsInto(tree, weights, { source: path });
      } catch (e) {
        throw new ModelLoadError(path, (e as Error).message);
      }
    }
  } catch (e) {
    model.dispose(); // a failed load leaves nothing allocated
    throw e;
  }
  return model;
}

/**
 * Writes a model directory atomically: everything goes to `<dir>.tmp`, which then replaces `dir`.
 * Weights are stored as F16 by default (the bundled model stays small).
 */
export function saveModel(
  dir: string,
  model: Pick<MogaModel, 'config' | 'dit' | 'text'>,
  dtype: 'F16' | 'F32' = 'F16',
  /** Files copied in beside the weights, by name (a VAE the config names as "vae.safetensors"). */
  files: Readonly<Record<string, string>> = {},
): void {
  const tmp = `${dir}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  writeFileAtomic(join(tmp, 'config.json'), `${JSON.stringify(model.config, null, 2)}\n`);
  saveParams(join(tmp, 'dit.safetensors'), model.dit.params, { dtype, metadata: { format: 'moga-dit' } });
  saveParams(join(tmp, 'text.safetensors'), model.text, { dtype, metadata: { format: 'moga-text-encoder' } });
  for (const [name, from] of Object.entries(files)) copyFileSync(from, join(tmp, name));
  // the model card is written by people: it survives a re-export of the weights
  const card = join(dir, 'README.md');
  if (existsSync(card)) copyFileSync(card, join(tmp, 'README.md'));
  const old = `${dir}.old-${process.pid}`;
  if (existsSync(dir)) renameSync(dir, old);
  renameSync(tmp, dir);
  rmSync(old, { recursive: true, force: true });
}
