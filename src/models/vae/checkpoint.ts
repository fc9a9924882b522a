/**
 * VAE checkpoints: one safetensors file holding the weights (encoder.*, decoder.*), the latent
 * scaling statistics (latent_stats.mean / .std, [Z]) and, in the metadata, the config and recipe.
 */
import { firstNonFinite } from '../../io/non-finite.js';
import { readSafetensors, type SafeDType, writeSafetensors } from '../../io/safetensors.js';
import { implausibleWeights } from '../../io/weight-check.js';
import { loadParamsInto, paramsToEntries } from '../../nn/params-file.js';
import type { VaeConfig } from './config.js';
import { initVideoVAE, type VideoVAE } from './vae.js';

const FORMAT = 'moga-vae';

function tree(vae: VideoVAE) {
  return { ...vae.params, latent_stats: vae.latentStats };
}

export function saveVae(
  path: string,
  vae: VideoVAE,
  opts: { dtype?: SafeDType; info?: Record<string, unknown> } = {},
): void {
  const meta = { format: FORMAT, config: JSON.stringify(vae.config), info: JSON.stringify(opts.info ?? {}) };
  const entries = paramsToEntries(tree(vae), opts.dtype ?? 'F32');
  writeSafetensors(path, entries, meta);
}

/** Reads a checkpoint written by `saveVae`; the config comes from its metadata. */
export function loadVae(path: string): { vae: VideoVAE; info: Record<string, unknown> } {
  const file = readSafetensors(path);
  if (file.metadata.format !== FORMAT)
    throw new Error(`${path} is not a VAE checkpoint (metadata format '${file.metadata.format}')`);
  const wrong = firstNonFinite(file) ?? implausibleWeights(file);
  if (wrong) throw new Error(`${path}: ${wrong}`);
  const config = JSON.parse(file.metadata.config) as VaeConfig;
  const vae = initVideoVAE(config);
  loadParamsInto(tree(vae), file, { source: path });
  return { vae, info: JSON.parse(file.metadata.info ?? '{}') };
}
