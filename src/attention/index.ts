export * from './grouped-attention.js';
export * from './plan.js';
export * from './plans.js';
export * from './router.js';
export * from './visual-attention.js';
