export * from './embeddings.js';
export * from './linear.js';
export * from './mlp.js';
export * from './norm.js';
export * from './params.js';
export * from './params-file.js';
