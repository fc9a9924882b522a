/** moga: minute-long multi-shot video generation with Mixture-of-Groups Attention. */

export * from './attention/index.js';
export * as cuda from './backends/cuda/index.js';
export * from './backends/index.js';
export { createWasmBackend, type WasmBackend, type WasmOptions } from './backends/wasm/index.js';
// The world's names (Story, Shot, Character...) would clash with the story/ layer's: a namespace.
export * as world from './data/world/index.js';
export * from './diffusion/index.js';
export * from './io/index.js';
export * from './models/cost.js';
export * from './models/dit/index.js';
export * from './models/latent-layout.js';
export * from './models/presets.js';
export * from './models/text/encoder.js';
export * from './models/text/tokenizer.js';
export { VOCAB_V1 } from './models/text/vocab.js';
// The VAE's encode/decode would clash with other layers' names: a namespace.
export * as vae from './models/vae/index.js';
export * from './nn/conv.js';
export * from './nn/index.js';
export * from './pipeline/index.js';
export * from './tensor/index.js';
export * from './train/index.js';
export * from './video/index.js';
