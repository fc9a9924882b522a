/**
 * VideoVAE: a causal 3D-conv autoencoder with a diagonal-Gaussian latent, compressing time by 4 and
 * space by 8 (the first frame alone): [B, 3, 1 + 4n, H, W] <-> [B, 16, 1 + n, H/8, W/8].
 *
 * encode/decode take and return a `StreamState`, so a long clip can be processed chunk by chunk with
 * flat memory and the same result as one pass. Without a state they run on the whole clip.
 */
import { type Conv3d, initConv3d } from '../../nn/conv.js';
import { add, div, exp, maximum, mul, neg, reshape, silu, split, sub } from '../../tensor/ops.js';
import { Rng } from '../../tensor/random.js';
import { fromArray, full, type Tensor } from '../../tensor/tensor.js';
import { checkVaeConfig, type VaeConfig, vaeFactors } from './config.js';
import {
  type CacheOut,
  type GroupNorm,
  initGroupNorm,
  initResBlock,
  patchify,
  type ResBlock,
  resBlock,
  type StreamState,
  streamConv,
  unpatchify,
  upsample2x,
  videoNorm,
} from './layers.js';
import { channelMap, pool2x } from './shortcuts.js';

export interface VaeEncoder {
  convIn: Conv3d;
  levels: { blocks: ResBlock[]; down?: Conv3d }[];
  normOut?: GroupNorm; // only with config.headNorm
  convOut: Conv3d; // -> 2 * latentChannels (mean, logvar)
}

export interface VaeDecoder {
  convIn: Conv3d;
  /** levels[i] runs at level i; `up` (from level i + 1) precedes its blocks. */
  levels: { up?: Conv3d; blocks: ResBlock[] }[];
  normOut?: GroupNorm; // only with config.headNorm
  convOut: Conv3d;
}

export interface VideoVAE {
  config: VaeConfig;
  params: { encoder: VaeEncoder; decoder: VaeDecoder };
  /** Per-channel mean and std of latent means over training clips (checkpointed). */
  latentStats: { mean: Tensor; std: Tensor };
}

export function initVideoVAE(config: VaeConfig, seed = 0): VideoVAE {
  checkVaeConfig(config);
  const rng = new Rng(seed);
  const { channels: ch, blocks, blockTimeKernel: bk, patch, latentChannels: zc } = config;
  const L = ch.length;
  const pix = 3 * patch * patch;
  const encoder: VaeEncoder = {
    convIn: initConv3d(rng, pix, ch[0], [bk[0], 3, 3]),
    levels: ch.map((c, i) => ({
      down: i === 0 ? undefined : initConv3d(rng, ch[i - 1], c, 3),
      blocks: Array.from({ length: blocks }, () => initResBlock(rng, c, c, bk[i])),
    })),
    normOut: config.headNorm ? initGroupNorm(ch[L - 1]) : undefined,
    convOut: initConv3d(rng, ch[L - 1], 2 * zc, 3),
  };
  // Start the posterior narrow (sigma = e^-3): with sigma ~ 1 at init the encoder first has to
  // inflate its means far above the noise, which slows and destabilises short CPU training runs.
  const bias = new Float32Array(2 * zc);
  bias.fill(-6, zc);
  encoder.convOut.bias?.dispose();
  encoder.convOut.bias = fromArray(bias, [2 * zc]);
  const decoder: VaeDecoder = {
    convIn: initConv3d(rng, zc, ch[L - 1], 3),
    levels: ch.map((c, i) => ({
      up: i === L - 1 ? undefined : initConv3d(rng, ch[i + 1], c, [config.upTimeKernel, 3, 3]),
      blocks: Array.from({ length: blocks }, () => initResBlock(rng, c, c, bk[i])),
    })),
    normOut: config.headNorm ? initGroupNorm(ch[0]) : undefined,
    convOut: initConv3d(rng, ch[0], pix, [bk[0], 3, 3]),
  };
  return {
    config,
    params: { encoder, decoder },
    latentStats: { mean: full([zc], 0), std: full([zc], 1) },
  };
}

/** Frames a chunk may have: the first chunk 1 + k * tf, later ones k * tf (k >= 0 / >= 1). */
function checkChunk(frames: number, tf: number, first: boolean, what: string) {
  const ok = first ? frames >= 1 && (frames - 1) % tf === 0 : frames >= tf && frames % tf === 0;
  if (!ok)
    throw new Error(
      `${what}: got ${frames} frames; the ${first ? 'first chunk needs 1 + k' : 'following chunks need k'} * ${tf} frames` +
        (first ? ' (causal time compression keeps the first frame alone)' : ''),
    );
}

export interface Posterior {
  mean: Tensor; // [B, Z, n, h, w]
  logvar: Tensor; // [B, Z, n, h, w], clamped to [-30, 20]
}

/**
 * x [B, 3, F, H, W] in [-1, 1] -> posterior over [B, Z, 1 + (F - 1) / 4, H / 8, W / 8] (first
 * chunk; later chunks: F / 4 latent frames). With `state`, returns the state after this chunk.
 */
export function encode(vae: VideoVAE, x: Tensor, state?: StreamState): Posterior & { state?: StreamState } {
  const { config: c } = vae;
  const e = vae.params.encoder;
  const f = vaeFactors(c);
  if (x.rank !== 5 || x.shape[1] !== 3)
    throw new Error(`encode: expected video [B, 3, F, H, W], got [${x.shape}]`);
  const [, , F, H, W] = x.shape;
  if (H % f.space || W % f.space)
    throw new Error(`encode: frame size ${W}x${H} must be a multiple of ${f.space}`);
  checkChunk(F, f.time, !state || state.frames === 0, 'encode');
  const out: CacheOut = state ? {} : undefined;
  const start = !state || state.frames === 0;
  const px = patchify(x, c.patch);
  let h = streamConv(e.convIn, px, 'enc.in', state, out);
  if (c.shortcuts) h = add(h, channelMap(px, h.shape[1]));
  e.levels.forEach((lv, i) => {
    if (lv.down) {
      const y = streamConv(lv.down, h, `enc.${i}.down`, state, out, [2, 2, 2]);
      h = c.shortcuts ? add(y, channelMap(pool2x(h, start), y.shape[1])) : y;
    }
    lv.blocks.forEach((b, j) => (h = resBlock(b, h, c, `enc.${i}.${j}`, state, out)));
  });
  const o = streamConv(e.convOut, silu(e.normOut ? videoNorm(e.normOut, h, c) : h), 'enc.out', state, out);
  const [m, lv] = split(o, [c.latentChannels, c.latentChannels], 1);
  const mean = c.shortcuts ? add(m, channelMap(h, c.latentChannels)) : m;
  const logvar = neg(maximum(neg(maximum(lv, -30)), -20)); // clamp to [-30, 20]
  return { mean, logvar, state: state && out ? { caches: out, frames: state.frames + F } : undefined };
}

/**
 * z [B, Z, n, h, w] -> video [B, 3, F, 8h, 8w] with F = 1 + 4 (n - 1) on the first chunk and 4n on
 * later ones. Values are unbounded (clamp to [-1, 1] for display).
 */
export function decode(
  vae: VideoVAE,
  z: Tensor,
  state?: StreamState,
): { video: Tensor; state?: StreamState } {
  const { config: c } = vae;
  const d = vae.params.decoder;
  if (z.rank !== 5 || z.shape[1] !== c.latentChannels)
    throw new Error(`decode: expected latent [B, ${c.latentChannels}, n, h, w], got [${z.shape}]`);
  const n = z.shape[2];
  if (n < 1) throw new Error('decode: the latent chunk has no frames');
  const start = !state || state.frames === 0;
  const out: CacheOut = state ? {} : undefined;
  const L = c.channels.length;
  let h = streamConv(d.convIn, z, 'dec.in', state, out);
  if (c.shortcuts) h = add(h, channelMap(z, h.shape[1]));
  for (let i = L - 1; i >= 0; i--) {
    const lv = d.levels[i];
    if (lv.up) {
      const u = upsample2x(h, start);
      const y = streamConv(lv.up, u, `dec.${i}.up`, state, out);
      h = c.shortcuts ? add(y, channelMap(u, y.shape[1])) : y;
    }
    lv.blocks.forEach((b, j) => (h = resBlock(b, h, c, `dec.${i}.${j}`, state, out)));
  }
  const o = streamConv(d.convOut, silu(d.normOut ? videoNorm(d.normOut, h, c) : h), 'dec.out', state, out);
  h = c.shortcuts ? add(o, channelMap(h, o.shape[1])) : o;
  return {
    video: unpatchify(h, c.patch),
    state: state && out ? { caches: out, frames: state.frames + n } : undefined,
  };
}

/** z = mean + exp(logvar / 2) * eps, eps ~ N(0, 1) (the reparameterisation trick). */
export function samplePosterior(p: Posterior, rng: Rng): Tensor {
  const eps = rng.normal(p.mean.shape);
  return add(p.mean, mul(exp(mul(p.logvar, 0.5)), eps));
}

/** Latents for the transformer: (z - mean) / std per channel, roughly unit variance. */
export function normalizeLatent(vae: VideoVAE, z: Tensor): Tensor {
  const { mean, std } = vae.latentStats;
  return div(sub(z, perChannel(mean)), perChannel(std));
}

/** The inverse of `normalizeLatent`. */
export function denormalizeLatent(vae: VideoVAE, z: Tensor): Tensor {
  const { mean, std } = vae.latentStats;
  return add(mul(z, perChannel(std)), perChannel(mean));
}

/** [Z] -> [Z, 1, 1, 1], broadcasting over (n, h, w) of [B, Z, n, h, w]. */
function perChannel(t: Tensor): Tensor {
  return reshape(t, [t.size, 1, 1, 1]);
}
