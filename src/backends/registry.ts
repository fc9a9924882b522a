/**
 * Backend selection: a typed list of probes, tried in order of preference. A probe returns a ready
 * backend or null (with a reason), so a machine without a GPU or without WebAssembly SIMD simply
 * falls through to the next one. Nothing here reads the environment; the CLI decides.
 */
import type { Backend } from './backend.js';
import { createRefBackend } from './ref/index.js';

export interface BackendProbe {
  readonly name: string;
  /** Lower runs first when choosing the default. */
  readonly priority: number;
  /** Returns the backend, or a string saying why it is unavailable. */
  probe(): Backend | string | Promise<Backend | string>;
}

const probes = new Map<string, BackendProbe>();
const ready = new Map<string, Backend>();
const reasons = new Map<string, string>();
let current: Backend | undefined;
/** True once a backend was set on purpose (setBackend, useBackend, chooseBackend), not by the ref default. */
let chosen = false;

export function registerBackend(p: BackendProbe): void {
  probes.set(p.name, p);
}

export function registeredBackends(): string[] {
  return [...probes.values()].sort((a, b) => a.priority - b.priority).map((p) => p.name);
}

/** Initialises (once) and returns the named backend, or throws saying why it is unavailable. */
export async function initBackend(name: string): Promise<Backend> {
  const have = ready.get(name);
  if (have) return have;
  const p = probes.get(name);
  if (!p) throw new Error(`unknown backend '${name}' (known: ${registeredBackends().join(', ')})`);
  const r = reasons.get(name) ?? (await p.probe());
  if (typeof r === 'string') {
    reasons.set(name, r);
    throw new Error(`backend '${name}' is unavailable: ${r}`);
  }
  ready.set(name, r);
  return r;
}

/** Backends that initialise on this machine, in order of preference, with reasons for the rest. */
export async function availableBackends(): Promise<{
  available: string[];
  unavailable: Record<string, string>;
}> {
  const available: string[] = [];
  const unavailable: Record<string, string> = {};
  for (const name of registeredBackends()) {
    try {
      await initBackend(name);
      available.push(name);
    } catch (e) {
      unavailable[name] = reasons.get(name) ?? (e as Error).message;
    }
  }
  return { available, unavailable };
}

/** Makes the named backend the one new tensors are created on. */
export async function setBackend(name: string): Promise<Backend> {
  current = await initBackend(name);
  chosen = true;
  return current;
}

/** Installs an already-initialised backend (synchronous; used by tests and the ref default). */
export function useBackend(b: Backend): void {
  ready.set(b.name, b);
  current = b;
  chosen = true;
}

/** The backend new tensors go to: the one last set, else `ref`. */
export function getBackend(): Backend {
  if (!current) {
    current = createRefBackend();
    ready.set(current.name, current);
  }
  return current;
}

/** Whether a backend was set on purpose (else new tensors go to the `ref` default). */
export function backendChosen(): boolean {
  return chosen;
}

/**
 * Runs `fn` with `b` as the backend new tensors go to, then restores the previous one (when the
 * promise settles, for an async `fn`: tensors other code makes meanwhile also go to `b`).
 */
export function withBackend<T>(b: Backend, fn: () => T): T {
  const prev = current;
  current = b;
  let r: T;
  try {
    r = fn();
  } catch (e) {
    current = prev;
    throw e;
  }
  if (!(r instanceof Promise)) {
    current = prev;
    return r;
  }
  return r.finally(() => {
    current = prev;
  }) as T;
}

export function readyBackend(name: string): Backend | undefined {
  return ready.get(name);
}
