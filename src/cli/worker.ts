/**
 * `moga worker --redis URL [--data DIR] [--model DIR] ...`: takes jobs from the Redis queue that
 * `moga serve --redis URL` fills, one at a time, each in a worker process of its own, writing the
 * outputs into the shared data folder; until Ctrl-C or SIGTERM, which put a running job back in
 * the queue for another worker.
 */
import { hostname } from 'node:os';
import { parseArgs } from 'node:util';
import { bundledModel } from '../pipeline/bundled.js';
import { runRedisWorker } from '../serve/redis-queue.js';
import { JobStore } from '../serve/store.js';
import { integerAtLeast } from './options.js';

const HELP = `usage: moga worker --redis URL [options]

Takes the jobs of moga serve --redis URL from Redis and generates them, one at a time, each in a
process of its own; the outputs go into the data folder, which the server and every worker share.
A job whose worker dies is taken again by another worker once its lock runs out.

  --redis URL         the Redis the server uses (redis://host:port[/db]); required
  --data DIR          the server's data folder (default ./moga-data)
  --model DIR         model directory (default: the bundled models/dit-tiny)
  --backend NAME      native | wasm | ref | cuda (default: the first that starts)
  --name NAME         this worker's name in the job records (default: host:pid)
  --lock-seconds S    how long a dead worker's job waits before another takes it (default 30)
  --retries N         re-runs of a job whose worker died (default 1)
  --quiet             no log lines on stderr
  -h, --help          this text`;

export async function run(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      redis: { type: 'string' },
      data: { type: 'string' },
      model: { type: 'string' },
      backend: { type: 'string' },
      name: { type: 'string' },
      'lock-seconds': { type: 'string' },
      retries: { type: 'string' },
      quiet: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(HELP);
    return;
  }
  if (!values.redis)
    throw new Error('worker: --redis URL is required (the Redis that moga serve --redis uses)');
  const log = values.quiet ? undefined : (line: string) => process.stderr.write(`worker: ${line}\n`);
  const name = values.name ?? `${hostname()}:${process.pid}`;
  const worker = await runRedisWorker({
    url: values.redis,
    store: new JobStore(values.data ?? 'moga-data', { lock: false }),
    model: values.model ?? bundledModel(),
    backend: values.backend,
    name,
    lockSeconds: integerAtLeast('worker', 'lock-seconds', values['lock-seconds'], 1) ?? 30,
    retries: integerAtLeast('worker', 'retries', values.retries, 0) ?? 1,
    log,
  });
  // the one line a script waits for (stdout), the rest is log (stderr)
  console.log(`moga worker: ${name} ready`);
  let stopping = false;
  for (const sig of ['SIGINT', 'SIGTERM'] as const)
    process.on(sig, () => {
      if (stopping) return;
      stopping = true;
      log?.(`${sig}: stopping (a running job goes back to the queue)`);
      worker.close().then(
        () => process.exit(0),
        (e: Error) => {
          process.stderr.write(`worker: ${e.message}\n`);
          process.exit(1);
        },
      );
    });
}
