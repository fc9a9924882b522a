/**
 * One cached training clip on disk: a safetensors file with the latent (F32 [C, F, H, W]) and, in
 * its metadata, the clip's captions and shot frames plus a kind and version. Reading checks all of
 * it, so a stray or foreign file in the cache folder is named with what is wrong, not
 * `"undefined" is not valid JSON`. Files written before the kind existed (only `clip` metadata)
 * are still read: a running training job's cache stays valid.
 */
import { readSafetensors, writeSafetensors } from '../io/safetensors.js';

export const LATENT_CACHE_FORMAT = 'moga-latent-cache';
export const LATENT_CACHE_VERSION = '1';

export interface CachedClip {
  latent: Float32Array;
  shape: number[];
  captions: string[];
  shotFrames: number[];
  global?: string;
}

export function writeCachedClip(path: string, c: CachedClip): void {
  const meta = { captions: c.captions, shotFrames: c.shotFrames, ...(c.global ? { global: c.global } : {}) };
  const metadata = { format: LATENT_CACHE_FORMAT, version: LATENT_CACHE_VERSION, clip: JSON.stringify(meta) };
  writeSafetensors(path, [['latent', { shape: c.shape, data: c.latent, dtype: 'F32' }]], metadata);
}

export function readCachedClip(path: string): CachedClip {
  const bad = (m: string) =>
    new Error(
      `latent cache ${path}: ${m}; remove the file (it is rebuilt) or point the recipe's "cache" elsewhere`,
    );
  let f: ReturnType<typeof readSafetensors>;
  try {
    f = readSafetensors(path);
  } catch (e) {
    throw bad(`unreadable (${(e as Error).message})`);
  }
  const { format, version, clip } = f.metadata;
  if (format !== undefined && format !== LATENT_CACHE_FORMAT)
    throw bad(`not a latent-cache file (metadata format ${JSON.stringify(format)})`);
  if (format !== undefined && version !== LATENT_CACHE_VERSION)
    throw bad(`version ${JSON.stringify(version)}, this build reads version ${LATENT_CACHE_VERSION}`);
  if (typeof clip !== 'string')
    throw bad('no "clip" metadata (captions and shot frames): not a latent-cache file');
  let meta: { captions?: unknown; shotFrames?: unknown; global?: unknown };
  try {
    meta = JSON.parse(clip);
  } catch (e) {
    throw bad(`its "clip" metadata is not valid JSON (${(e as Error).message})`);
  }
  const strings = (v: unknown) => Array.isArray(v) && v.length > 0 && v.every((s) => typeof s === 'string');
  const ints = (v: unknown) => Array.isArray(v) && v.every((s) => Number.isInteger(s) && s >= 0);
  if (!meta || !strings(meta.captions) || !ints(meta.shotFrames))
    throw bad('its "clip" metadata lacks captions (strings) or shotFrames (integers)');
  if (meta.global !== undefined && typeof meta.global !== 'string')
    throw bad('its global caption is not a string');
  const t = f.tensors.get('latent');
  if (t?.dtype !== 'F32' || t.shape.length !== 4)
    throw bad(
      `expected a tensor "latent" F32 [C, F, H, W], found ${t ? `${t.dtype} [${t.shape.join(', ')}]` : 'none'}`,
    );
  return {
    latent: t.data as Float32Array,
    shape: [...t.shape],
    captions: meta.captions as string[],
    shotFrames: meta.shotFrames as number[],
    ...(meta.global !== undefined ? { global: meta.global as string } : {}),
  };
}
