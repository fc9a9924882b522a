/**
 * MoGA attention (see shared design MOGA.md): every pattern is an AttentionPlan executed by one op.
 * Choices where the paper is silent (ours, configurable):
 * - STGA windows are given as windows per side (`window: [ny, nx]`, the paper's "2x2"); the
 *   temporal group defaults to the whole shot; adjacent-shot frames (default 2) are added to the
 *   keys/values of the groups touching a cut, in the same spatial window.
 * - Routed groups span the whole video by default (`routedPerShot` splits them by shot).
 * - Balancing loss: Switch form by default, the paper's printed form as an option.
 * - Batch > 1: per-sample plans concatenated with row offsets (`plans.batch`).
 */
export * from './grouped-attention.js';
export * from './plan.js';
export * from './plans.js';
export * from './router.js';
export * from './visual-attention.js';
