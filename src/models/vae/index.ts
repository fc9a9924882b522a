/** The causal video VAE: config presets, model, streaming state, loss, checkpoints, recipe. */

export { loadVae, saveVae } from './checkpoint.js';
export {
  checkVaeConfig,
  VAE_PRESETS,
  type VaeConfig,
  type VaePresetName,
  vaeFactors,
  vaePresetOrConfig,
} from './config.js';
export { type ClipScore, type EvalOptions, evaluateVae, reconstructStreaming } from './evaluate.js';
export {
  disposeStreamState,
  type GroupNorm,
  newStreamState,
  type ResBlock,
  type StreamState,
} from './layers.js';
export { psnr8, toBytes, type VaeLoss, type VaeLossWeights, vaeLoss } from './loss.js';
export { checkRecipe, computeLatentStats, trainVae, type VaeRecipe } from './train.js';
export {
  decode,
  denormalizeLatent,
  encode,
  initVideoVAE,
  normalizeLatent,
  type Posterior,
  samplePosterior,
  type VaeDecoder,
  type VaeEncoder,
  type VideoVAE,
} from './vae.js';
