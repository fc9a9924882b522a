/** moga: minute-long multi-shot video generation with Mixture-of-Groups Attention. */
export * from './backends/index.js';
export * from './tensor/index.js';
export * from './nn/index.js';
export * from './nn/conv.js';
export * from './attention/index.js';
export * from './data/world/index.js';
export * from './video/index.js';
export * from './models/text/tokenizer.js';
export { VOCAB_V1 } from './models/text/vocab.js';
export * from './diffusion/index.js';
export * from './models/dit/index.js';
