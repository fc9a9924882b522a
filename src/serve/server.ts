/**
 * startServer: the queue on a data folder plus the HTTP API, listening. Safe by default: it binds
 * 127.0.0.1 unless told otherwise, and any other address needs a token (a job runs a model on this
 * machine's CPU and fills its disk; that is not for whoever can reach the port).
 */

import type { Server } from 'node:http';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { serve } from '@hono/node-server';
import { packageRoot } from '../pipeline/bundled.js';
import { createApp } from './app.js';
import { modelFacts } from './preflight.js';
import { JobQueue, type Jobs } from './queue.js';
import { RedisJobQueue } from './redis-queue.js';
import { JobStore } from './store.js';

export interface ServeOptions {
  readonly host?: string;
  /** 0: any free port (the result says which). */
  readonly port?: number;
  readonly token?: string;
  /** The data folder: the queue's jobs and their outputs. */
  readonly data: string;
  readonly model: string;
  readonly backend?: string;
  readonly maxQueued?: number;
  readonly maxBody?: number;
  readonly maxSeconds?: number;
  readonly retries?: number;
  readonly version?: string;
  /**
   * Redis URL: the jobs go on Redis (BullMQ) for `moga worker --redis` processes sharing the data
   * folder, instead of the embedded queue's one local worker at a time.
   */
  readonly redis?: string;
  /** The built studio page (default: dist/studio/ of this package). */
  readonly studioDir?: string;
  readonly log?: (line: string) => void;
}

export const SERVE_DEFAULTS = {
  host: '127.0.0.1',
  port: 8642,
  maxQueued: 16,
  maxBody: 64 * 1024,
  maxSeconds: 120,
  retries: 1,
} as const;

/** The shortest token accepted (a guessable token on an open port is no protection). */
export const MIN_TOKEN = 16;

export interface RunningServer {
  readonly url: string;
  readonly port: number;
  /** The embedded queue, or the Redis one (`redis`). */
  readonly queue: Jobs;
  /** Stops listening, stops the running attempt (its job stays queued for the next start). */
  close(): Promise<void>;
}

/** Whether `host` is a loopback address or name (127.0.0.0/8, ::1, localhost). */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[(.*)\]$/, '$1');
  if (h === 'localhost') return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  if (isIP(h) === 6) return h === '::1' || h === '0:0:0:0:0:0:0:1';
  return false;
}

/** Checks the host and token pair; the message says what to do. */
export function checkExposure(host: string, token: string | undefined): void {
  if (token !== undefined && token.length < MIN_TOKEN)
    throw new Error(
      `serve: the token must be at least ${MIN_TOKEN} characters (e.g. the output of: openssl rand -hex 16)`,
    );
  if (!isLoopback(host) && token === undefined)
    throw new Error(
      `serve: --host ${host} would expose the server beyond this machine; that needs --token (or MOGA_SERVE_TOKEN), which every request must then send as Authorization: Bearer <token>`,
    );
}

export async function startServer(opts: ServeOptions): Promise<RunningServer> {
  const host = opts.host ?? SERVE_DEFAULTS.host;
  checkExposure(host, opts.token);
  const maxSeconds = opts.maxSeconds ?? SERVE_DEFAULTS.maxSeconds;
  const facts = await modelFacts(opts.model); // a model that does not load stops the start here
  const store = new JobStore(opts.data);
  let queue: Jobs;
  try {
    const maxQueued = opts.maxQueued ?? SERVE_DEFAULTS.maxQueued;
    queue =
      opts.redis === undefined
        ? new JobQueue(store, {
            model: opts.model,
            backend: opts.backend,
            maxQueued,
            retries: opts.retries ?? SERVE_DEFAULTS.retries,
            log: opts.log,
          })
        : await RedisJobQueue.open(store, { url: opts.redis, maxQueued, log: opts.log });
  } catch (e) {
    store.close();
    throw e;
  }
  const app = createApp({
    queue,
    facts,
    token: opts.token,
    maxBody: opts.maxBody ?? SERVE_DEFAULTS.maxBody,
    maxSeconds,
    version: opts.version ?? 'unknown',
    studioDir: opts.studioDir ?? join(packageRoot(), 'dist', 'studio'),
  });
  let server: Server;
  try {
    server = await new Promise<Server>((res, rej) => {
      const s = serve({ fetch: app.fetch, hostname: host, port: opts.port ?? SERVE_DEFAULTS.port }, () =>
        res(s as Server),
      ) as Server;
      // Node closes an idle keep-alive connection after 5 s; a client reusing it at that instant
      // gets ECONNRESET (seen once from the studio test's browser under load). Clients time out first.
      s.keepAliveTimeout = 65_000;
      s.headersTimeout = 66_000;
      s.once('error', rej);
    });
  } catch (e) {
    await queue.close();
    throw e;
  }
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : (opts.port ?? SERVE_DEFAULTS.port);
  const shown = isIP(host) === 6 ? `[${host}]` : host;
  let closing: Promise<void> | undefined;
  return {
    url: `http://${shown}:${port}`,
    port,
    queue,
    close() {
      closing ??= (async () => {
        await queue.close();
        await new Promise<void>((res) => {
          server.close(() => res());
          server.closeAllConnections(); // event streams never end by themselves
        });
      })();
      return closing;
    },
  };
}
