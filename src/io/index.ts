export * from './caption-embeddings.js';
export * from './params-file.js';
export * from './safetensors.js';
