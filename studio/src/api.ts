/**
 * The page's one way to the server: JSON calls, the event stream (read with fetch, not
 * EventSource, so a token can ride along as a header) and media URLs. Same origin only.
 */
import type { CheckResult, Draft, JobRecord } from './types.js';

const TOKEN_KEY = 'moga-token';

/** A refusal from the server: its message, and the field at fault when it names one. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly field?: string,
  ) {
    super(message);
  }
}

export function token(): string {
  return sessionStorage.getItem(TOKEN_KEY) ?? '';
}

export function setToken(t: string): void {
  if (t) sessionStorage.setItem(TOKEN_KEY, t);
  else sessionStorage.removeItem(TOKEN_KEY);
}

function headers(extra: Record<string, string> = {}): Record<string, string> {
  const t = token();
  return t ? { ...extra, authorization: `Bearer ${t}` } : extra;
}

export async function call<T>(path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
  const r = await fetch(path, {
    method: body === undefined ? 'GET' : 'POST',
    headers: headers(body === undefined ? {} : { 'content-type': 'application/json' }),
    body: body === undefined ? undefined : JSON.stringify(body),
    signal,
  });
  const text = await r.text();
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    throw new ApiError(r.status, `${path}: ${r.status}, not JSON: ${text.slice(0, 200)}`);
  }
  if (!r.ok) {
    const e = data as { error?: string; field?: string };
    throw new ApiError(r.status, e.error ?? `${path}: ${r.status}`, e.field);
  }
  return data as T;
}

/** The request body for a draft: the story and the options the server takes. */
export function submission(d: Draft): Record<string, unknown> {
  return { story: d.story, steps: d.steps, seed: d.story.seed, guidance: d.guidance, maps: d.maps };
}

export const check = (d: Draft, signal?: AbortSignal) =>
  call<CheckResult>('/api/stories/check', submission(d), signal);
export const submit = (d: Draft) => call<JobRecord>('/api/jobs', submission(d));
export const jobs = () => call<{ jobs: JobRecord[] }>('/api/jobs').then((r) => r.jobs);
export const cancel = (id: string) => call<JobRecord>(`/api/jobs/${id}/cancel`, {});
/** A new job from finished job `id`: `shots` generated anew (new captions by shot), the rest kept. */
export const regenerate = (
  id: string,
  body: { shots: number[]; captions?: Record<string, string>; seed?: number; steps?: number },
) => call<JobRecord>(`/api/jobs/${id}/regenerate`, body);

export interface SseEvent {
  readonly event: string;
  readonly data: unknown;
}

/**
 * A job's event stream, event by event, until the server's `end` or `signal`: blocks separated by
 * a blank line, `event:` and `data:` lines (comments and keep-alives skipped).
 */
export async function* events(id: string, signal: AbortSignal): AsyncGenerator<SseEvent> {
  const r = await fetch(`/api/jobs/${id}/events`, { headers: headers(), signal });
  if (!r.ok || !r.body) throw new ApiError(r.status, `event stream of job ${id}: ${r.status}`);
  const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
  let buf = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buf += value.replace(/\r\n/g, '\n');
    for (let k = buf.indexOf('\n\n'); k >= 0; k = buf.indexOf('\n\n')) {
      const block = buf.slice(0, k);
      buf = buf.slice(k + 2);
      let event = 'message';
      let data = '';
      for (const line of block.split('\n')) {
        if (line.startsWith('event:')) event = line.slice(6).trim();
        else if (line.startsWith('data:')) data += line.slice(5).trim();
      }
      if (!data) continue;
      yield { event, data: JSON.parse(data) };
      if (event === 'end') {
        await reader.cancel();
        return;
      }
    }
  }
}

const blobs = new Map<string, string>();

/**
 * A URL for a job's file that an <img> or <video> can load: the path itself, or, when a token is
 * needed (elements cannot send headers), an object URL of the file fetched with it.
 */
export async function mediaUrl(path: string): Promise<string> {
  if (!token()) return path;
  const known = blobs.get(path);
  if (known) return known;
  const r = await fetch(path, { headers: headers() });
  if (!r.ok) throw new ApiError(r.status, `${path}: ${r.status}`);
  const url = URL.createObjectURL(await r.blob());
  blobs.set(path, url);
  return url;
}

export async function json<T>(path: string): Promise<T> {
  return call<T>(path);
}
