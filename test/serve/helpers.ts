/**
 * Helpers for the serve tests: a micro model directory (test/pipeline/helpers.ts's, one block of
 * width 32, generated on the ref backend in well under a second), the 1-second two-shot story,
 * a server in this process or in a child process of its own, and an SSE reader.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pidAlive } from '../../src/io/atomic-file.js';
import { initModel, saveModel } from '../../src/pipeline/model.js';
import { Rng } from '../../src/tensor/random.js';
import { moveOffInit } from '../models/micro-dit.js';
import { microConfig, TWO_SHOTS } from '../pipeline/helpers.js';

export { TWO_SHOTS };

/**
 * A temp folder with a micro model in `model/`; `conditioning`: with dit.conditioning (it can keep
 * given latent frames: regenerate), moved off its initialisation as test/cli/conditioning.test.ts's
 * is, so a regenerated shot comes out different.
 */
export function microModelDir(
  prefix: string,
  opts: { conditioning?: boolean } = {},
): { dir: string; model: string } {
  const dir = mkdtempSync(join(tmpdir(), `moga-serve-${prefix}-`));
  const model = join(dir, 'model');
  const c = microConfig();
  const m = initModel(opts.conditioning ? { ...c, dit: { ...c.dit, conditioning: true } } : c, 3);
  if (opts.conditioning) moveOffInit(m.dit, new Rng(3), 0.05);
  saveModel(model, m, opts.conditioning ? 'F32' : undefined);
  m.dispose();
  return { dir, model };
}

/** A job request for the two-shot story (1 s, 64x32, 25 frames). */
export function twoShotJob(over: Record<string, unknown> = {}) {
  return { story: TWO_SHOTS, steps: 2, ...over };
}

/** A response's JSON, read by the tests field by field (its shape is what they check). */
// biome-ignore lint/suspicious/noExplicitAny: test code reads whatever JSON came back
export type Json = any;

export async function api(
  base: string,
  path: string,
  init: RequestInit & { json?: unknown } = {},
): Promise<{ status: number; body: Json; headers: Headers }> {
  const { json, ...rest } = init;
  const r = await fetch(`${base}${path}`, {
    ...rest,
    ...(json === undefined
      ? {}
      : {
          method: rest.method ?? 'POST',
          body: JSON.stringify(json),
          headers: { 'content-type': 'application/json', ...rest.headers },
        }),
  });
  const text = await r.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {}
  return { status: r.status, body, headers: r.headers };
}

export interface SseEvent {
  event: string;
  data: Json;
}

/** Reads an event stream until `end` (or `until` says stop); the events, in order. */
export async function readEvents(
  url: string,
  opts: { headers?: Record<string, string>; until?: (e: SseEvent) => boolean; timeoutMs?: number } = {},
): Promise<SseEvent[]> {
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(), opts.timeoutMs ?? 60_000);
  const events: SseEvent[] = [];
  try {
    const r = await fetch(url, { headers: opts.headers, signal: ctl.signal });
    if (r.status !== 200) throw new Error(`event stream ${url}: ${r.status} ${await r.text()}`);
    const reader = r.body!.pipeThrough(new TextDecoderStream()).getReader();
    let buf = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return events;
      buf += value;
      for (let k = buf.indexOf('\n\n'); k >= 0; k = buf.indexOf('\n\n')) {
        const block = buf.slice(0, k);
        buf = buf.slice(k + 2);
        const e: SseEvent = { event: 'message', data: undefined };
        for (const line of block.split('\n')) {
          if (line.startsWith('event:')) e.event = line.slice(6).trim();
          else if (line.startsWith('data:')) e.data = JSON.parse(line.slice(5));
        }
        if (e.data === undefined) continue;
        events.push(e);
        if (e.event === 'end' || opts.until?.(e)) {
          ctl.abort();
          return events;
        }
      }
    }
  } finally {
    clearTimeout(timer);
  }
}

/**
 * `moga serve` as its own process (the real CLI, from source through tsx, or `compiled`: the
 * built bin/moga.js, as the package runs it); resolves with its URL once it listens.
 */
export async function spawnServer(
  args: string[],
  opts: { compiled?: boolean } = {},
): Promise<{ child: ChildProcess; url: string; stderr: () => string }> {
  const cli = opts.compiled ? ['bin/moga.js'] : ['--import', 'tsx', 'src/cli/main.ts'];
  const child = spawn(process.execPath, [...cli, 'serve', '--port', '0', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => {
    err += d.toString();
  });
  const url = await new Promise<string>((res, rej) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) res(m[1]);
    });
    child.once('exit', (code) => rej(new Error(`moga serve exited (${code}) before listening: ${err}`)));
  });
  return { child, url, stderr: () => err };
}

/** Polls `fn` until it returns a value (not undefined), or fails after `ms`. */
export async function waitFor<T>(
  what: string,
  fn: () => Promise<T | undefined> | T | undefined,
  ms = 60_000,
): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * Whether process `pid` is still running: alive and not a zombie (an orphan that has exited is a
 * zombie until whoever adopted it reaps it, which may take a while, or never, in a container).
 */
export function running(pid: number): boolean {
  if (!pidAlive(pid)) return false;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return true; // no /proc: trust kill(pid, 0)
  }
}
