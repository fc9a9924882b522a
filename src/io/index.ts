export * from './caption-embeddings.js';
export * from './non-finite.js';
export * from './safetensors.js';
