/**
 * moga: minute-long multi-shot video generation with Mixture-of-Groups Attention.
 *
 * The public API, one name per thing. Everything else under src/ is internal and may change.
 * The usual start: `generate(readStory(bundledExample('short')), await loadModel(bundledModel()))`;
 * the best backend available here (native, wasm, ref) is chosen on first use.
 */

// ---- attention (every pattern is an AttentionPlan run by groupedAttention) ----
export { type GroupedAttentionOptions, groupedAttention } from './attention/grouped-attention.js';
export type { AttentionPlan } from './attention/plan.js';
export { type GridLayout, plans, type WindowOptions } from './attention/plans.js';
export {
  MoGARouter,
  type MoGARouterOptions,
  type MoGARouterParams,
  type MoGARouting,
} from './attention/router.js';
export {
  ATTENTION_BRANCHES,
  type AttentionBranch,
  VisualAttention,
  type VisualAttentionConfig,
  type VisualAttentionOutput,
  type VisualAttentionParams,
  type VisualAttentionStatics,
} from './attention/visual-attention.js';
// Types the API above refers to (so its reference documentation is complete).
export type { Storage, TensorRef } from './backends/backend.js';
// ---- backends ----
export {
  availableBackends,
  type Backend,
  type BackendProbe,
  chooseBackend,
  DEFAULT_BACKENDS,
  ensureBackend,
  getBackend,
  initBackend,
  registerBackend,
  registeredBackends,
  setBackend,
  UnsupportedRoutineError,
  useBackend,
} from './backends/index.js';
export { createWasmBackend, type WasmBackend, type WasmOptions } from './backends/wasm/index.js';
// ---- core: the op contract, dtypes, shapes ----
export type { DType, TypedArray } from './core/dtype.js';
export type {
  BinaryOp,
  ConvParams,
  GroupedAttentionParams,
  NoParams,
  OpName,
  OpParams,
  UnaryOp,
} from './core/op-spec.js';
export { type Shape, sizeOf } from './core/shape.js';
// The synthetic world's names (Story, Shot...) would clash with the story file's: a namespace.
export * as world from './data/world/index.js';
// ---- diffusion ----
export * from './diffusion/index.js';
export type { CaptionEmbeddingsFile } from './io/caption-embeddings.js';
// ---- files ----
export type { TensorsToWrite } from './io/safetensors.js';
export {
  inspectSafetensors,
  parseSafetensors,
  readSafetensors,
  type SafeDType,
  type SafeFile,
  type SafeTensor,
  SafetensorsError,
  serializeSafetensors,
  type TensorToWrite,
  writeSafetensors,
} from './io/safetensors.js';
// ---- models ----
export * from './models/cost.js';
export type { CellHeadParams } from './models/dit/cell-head.js';
export type { DiTBatchOutput } from './models/dit/dit.js';
export {
  type DiTInput,
  type DiTOutput,
  type GivenFrames,
  initVideoDiT,
  type VideoDiT,
  type VideoDiTParams,
  videoDiT,
  videoDiTBatch,
} from './models/dit/dit.js';
export type { CrossAttentionParams, DiTBlockParams } from './models/dit/dit-block.js';
export type {
  ConditioningDraw,
  ConditioningKind,
  Denoiser,
  ObjectiveOptions,
  TrainingExample,
  TrainingLoss,
} from './models/dit/objective.js';
export {
  type ConditionedDenoiser,
  denoiser,
  type Prediction,
  type SamplingVelocity,
  samplingVelocity,
  trainingLoss,
} from './models/dit/objective.js';
export type { MultiShotText, ShotText } from './models/dit/text.js';
export type { LatentFactors } from './models/latent-layout.js';
export { type LatentLayout, type ShotLayout, videoLayout } from './models/latent-layout.js';
export * from './models/presets.js';
export type { TextBlock } from './models/text/encoder.js';
export {
  type CaptionEmbedding,
  type CaptionEncoder,
  initTextEncoder,
  learnedCaptionEncoder,
  precomputedCaptionEncoder,
  type TextEncoderConfig,
  type TextEncoderParams,
  textEncoderConfig,
} from './models/text/encoder.js';
export {
  decodeText,
  type EncodedText,
  encodeText,
  makeTokenizer,
  TOKEN_BOS,
  TOKEN_EOS,
  TOKEN_PAD,
  type Tokenizer,
  tokenizeText,
} from './models/text/tokenizer.js';
export { VOCAB_V1 } from './models/text/vocab.js';
// The VAE's encode/decode would clash with other layers' names: a namespace.
export * as vae from './models/vae/index.js';
// ---- layers and parameters ----
export * from './nn/conv.js';
export * from './nn/embeddings.js';
export * from './nn/linear.js';
export * from './nn/mlp.js';
export * from './nn/norm.js';
export * from './nn/params.js';
export { loadParams, loadParamsInto, saveParams } from './nn/params-file.js';
// ---- stories, models, generation ----
export { bundledExample, bundledModel, packageVersion } from './pipeline/bundled.js';
export { type LatentCodec, type LatentDecoder, type LatentEncoder, vaeCodec } from './pipeline/codec.js';
export {
  type GenerateOptions,
  type GenerateResult,
  generate,
  type UnknownWords,
  unknownWords,
} from './pipeline/generate.js';
export { latentLayout } from './pipeline/layout.js';
export {
  type CodecSpec,
  initModel,
  type LoadModelOptions,
  loadModel,
  MODEL_FORMAT,
  type ModelConfig,
  ModelLoadError,
  type MogaModel,
  type SamplingDefaults,
  saveModel,
} from './pipeline/model.js';
export { poolCodec } from './pipeline/pool-codec.js';
export type { ProgressEvent, Stage } from './pipeline/progress.js';
export { type DitRecipe, type TrainDitOptions, type TrainDitResult, trainDit } from './pipeline/train-dit.js';
export type { ClipSpec } from './pipeline/world-clips.js';
export type { FieldPath } from './story/story.js';
export { parseStory, readStory, type Shot, type Story, StoryError, storyFrames } from './story/story.js';
// ---- tensors and autodiff ----
export { backward, grad, gradients, valueAndGrad } from './tensor/autodiff.js';
export { type FrameLayout, float32ToFrame, framesToFloat32, framesToTensor } from './tensor/frames.js';
export * from './tensor/ops.js';
export { Rng, rand, randn } from './tensor/random.js';
export type { GradNode } from './tensor/tensor.js';
export {
  empty,
  fromArray,
  full,
  isGradEnabled,
  keep,
  noGrad,
  Tensor,
  tidy,
  tidyAsync,
  toBackend,
} from './tensor/tensor.js';
export type { AdamWState } from './train/adamw.js';
// ---- training ----
export { ADAMW_DEFAULTS, type AdamWConfig } from './train/adamw.js';
export type { StateJson } from './train/checkpoint.js';
export {
  findCheckpoint,
  loadCheckpoint,
  saveCheckpoint,
  type TrainHyper,
  type TrainState,
} from './train/checkpoint.js';
export { type LossWithMetrics, type TrainLoopOptions, type TrainResult, trainLoop } from './train/loop.js';
export type { ProgressInfo, ProgressMode } from './train/progress.js';
export { clipGlobalNorm, emaUpdate, warmupConstant } from './train/schedule.js';
export type { SheetOptions } from './video/contact-sheet.js';
// ---- video ----
export { contactSheet, writeContactSheet } from './video/contact-sheet.js';
export type { FfmpegLocation } from './video/ffmpeg.js';
export { findFfmpeg } from './video/ffmpeg.js';
export { type Mp4Options, type Mp4Writer, openMp4Writer } from './video/mp4-writer.js';
export { encodePng, writePng } from './video/png.js';
export { probeVideo, readVideo, type VideoInfo } from './video/reader.js';
