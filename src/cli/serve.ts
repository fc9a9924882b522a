/**
 * `moga serve [--host 127.0.0.1] [--port 8642] [--token T] [--data DIR] [--model DIR] ...`: the HTTP
 * API and job queue of src/serve/, in the foreground until Ctrl-C (which stops the running attempt
 * and keeps its job queued for the next start).
 */
import { parseArgs } from 'node:util';
import { bundledModel, packageVersion } from '../pipeline/bundled.js';
import { SERVE_DEFAULTS, startServer } from '../serve/server.js';
import { integerAtLeast } from './options.js';

const HELP = `usage: moga serve [options]

Serves a JSON API to submit stories, follow their progress (Server-Sent Events), cancel them and
fetch the MP4, contact sheet and report; jobs run one at a time, each in its own worker process,
and persist in the data folder across restarts.

  --host H         address to listen on (default ${SERVE_DEFAULTS.host}; any other needs --token)
  --port N         port (default ${SERVE_DEFAULTS.port}; 0 = any free one, printed at start)
  --token T        require Authorization: Bearer T on every request (at least 16 characters;
                   MOGA_SERVE_TOKEN in the environment does the same without showing in ps)
  --data DIR       the queue's folder: jobs, stories, outputs (default ./moga-data)
  --model DIR      model directory for every job (default: the bundled models/dit-tiny)
  --backend NAME   native | wasm | ref | cuda for the workers (default: the first that starts)
  --max-queue N    jobs waiting at most; more get 429 (default ${SERVE_DEFAULTS.maxQueued})
  --max-body N     request body bytes at most (default ${SERVE_DEFAULTS.maxBody})
  --max-seconds S  story length at most, in seconds (default ${SERVE_DEFAULTS.maxSeconds})
  --retries N      re-runs of a job interrupted by the server's death (default ${SERVE_DEFAULTS.retries};
                   with --redis, each moga worker's --retries counts instead)
  --redis URL      keep the jobs on Redis (redis://host:port) for moga worker --redis processes that
                   share the data folder, instead of running them here one at a time
  --quiet          no log lines on stderr
  -h, --help       this text`;

export async function run(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      host: { type: 'string' },
      port: { type: 'string' },
      token: { type: 'string' },
      data: { type: 'string' },
      model: { type: 'string' },
      backend: { type: 'string' },
      'max-queue': { type: 'string' },
      'max-body': { type: 'string' },
      'max-seconds': { type: 'string' },
      retries: { type: 'string' },
      redis: { type: 'string' },
      quiet: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(HELP);
    return;
  }
  const port = integerAtLeast('serve', 'port', values.port, 0);
  if (port !== undefined && port > 65535)
    throw new Error(`serve: --port must be in [0, 65535], got '${values.port}'`);
  const token = values.token ?? (process.env.MOGA_SERVE_TOKEN || undefined);
  const log = values.quiet ? undefined : (line: string) => process.stderr.write(`serve: ${line}\n`);
  const server = await startServer({
    host: values.host,
    port,
    token,
    data: values.data ?? 'moga-data',
    model: values.model ?? bundledModel(),
    backend: values.backend,
    maxQueued: integerAtLeast('serve', 'max-queue', values['max-queue'], 1),
    maxBody: integerAtLeast('serve', 'max-body', values['max-body'], 1024),
    maxSeconds: integerAtLeast('serve', 'max-seconds', values['max-seconds'], 1),
    retries: integerAtLeast('serve', 'retries', values.retries, 0),
    redis: values.redis,
    version: packageVersion(),
    log,
  });
  // the one line a script waits for (stdout), the rest is log (stderr)
  console.log(`moga serve: listening on ${server.url}${token ? ' (token required)' : ''}`);
  let stopping = false;
  for (const sig of ['SIGINT', 'SIGTERM'] as const)
    process.on(sig, () => {
      if (stopping) return;
      stopping = true;
      log?.(`${sig}: stopping (a running job stays queued for the next start)`);
      server.close().then(
        () => process.exit(0),
        (e: Error) => {
          process.stderr.write(`serve: ${e.message}\n`);
          process.exit(1);
        },
      );
    });
}
