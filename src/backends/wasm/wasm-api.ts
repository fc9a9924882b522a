/**
 * The slice of the WebAssembly JS API this backend uses, typed locally: the project's lib setting
 * (ES2023, no DOM) has no WebAssembly declarations, and a global declaration here could clash with
 * one added elsewhere later.
 */
export interface WasmModule {
  readonly __brand?: 'WebAssembly.Module';
}
export interface WasmMemory {
  readonly buffer: ArrayBuffer | SharedArrayBuffer;
  grow(pages: number): number;
}
export type WasmExports = Record<string, unknown>;
export interface WasmInstance {
  readonly exports: WasmExports;
}

interface WasmApi {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => WasmModule;
  Instance: new (module: WasmModule, imports: Record<string, Record<string, unknown>>) => WasmInstance;
  Memory: new (desc: { initial: number; maximum: number; shared: boolean }) => WasmMemory;
}

/** The runtime's WebAssembly object, or undefined where there is none. */
export const WA = (globalThis as unknown as { WebAssembly?: WasmApi }).WebAssembly;
