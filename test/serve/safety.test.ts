/**
 * Safe by default: every hostile or broken request gets a clear 4xx with a JSON message and the
 * server keeps serving: path traversal in every place a path could hide, oversized bodies (with
 * and without a length), malformed JSON, wrong content types, foreign Host and Origin headers, a
 * flood of submissions against the bounded queue (429); a token when asked for; exposure beyond
 * the loopback refused without one; one server per data folder.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { checkExposure, isLoopback, type RunningServer, startServer } from '../../src/serve/server.js';
import { api, type Json, microModelDir, twoShotJob, waitFor } from './helpers.js';

let dir: string;
let model: string;
let server: RunningServer;
const MAX_QUEUE = 3;

before(async () => {
  ({ dir, model } = microModelDir('safety'));
  server = await startServer({
    data: join(dir, 'data'),
    model,
    backend: 'ref',
    port: 0,
    maxQueued: MAX_QUEUE,
  });
});
after(async () => {
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** A raw request: the path exactly as written (fetch would normalise it), and any headers. */
function raw(
  path: string,
  opts: { method?: string; headers?: Record<string, string>; body?: string | Buffer[] } = {},
): Promise<{ status: number; text: string; body: Json }> {
  const u = new URL(server.url);
  return new Promise((res, rej) => {
    const req = request(
      {
        host: u.hostname,
        port: u.port,
        path,
        method: opts.method ?? 'GET',
        headers: opts.headers,
        agent: false,
      },
      (r) => {
        let text = '';
        r.on('data', (d) => {
          text += d;
        });
        r.on('end', () => {
          let body: unknown;
          try {
            body = JSON.parse(text);
          } catch {}
          res({ status: r.statusCode!, text, body });
        });
      },
    );
    req.on('error', rej);
    if (Array.isArray(opts.body)) for (const b of opts.body) req.write(b);
    else if (opts.body !== undefined) req.write(opts.body);
    req.end();
  });
}

async function stillServing() {
  const h = await api(server.url, '/api/health');
  assert.equal(h.status, 200);
  assert.equal(h.body.ok, true);
}

test('path traversal: every form gets a 4xx with a message, and no file outside the outputs is read', async () => {
  const lock = readFileSync(join(dir, 'data', 'server.lock'), 'utf8').trim();
  const done = await api(server.url, '/api/jobs', { json: twoShotJob({ steps: 1 }) });
  const id = done.body.id;
  const paths = [
    '/api/jobs/../../etc/passwd',
    '/api/jobs/..%2f..%2fetc%2fpasswd',
    '/api/jobs/..%2f..%2fserver.lock/video.mp4',
    '/api/jobs/%2e%2e/%2e%2e/server.lock',
    '/api/jobs/%2e%2e%2fserver.lock/events',
    '/api/jobs/..%5c..%5cserver.lock',
    '/api/jobs/0123456789ABCDEF',
    '/api/jobs/0123456789abcdef%00/video.mp4',
    '/api/jobs/0123456789abcdef0/video.mp4',
    `/api/jobs/${id}/..%2f..%2fserver.lock`,
    `/api/jobs/${id}/%2e%2e%2f%2e%2e%2fserver.lock`,
    `/api/jobs/${id}/job.json`,
    `/api/jobs/${id}/run-1`,
    '/api/jobs/0123456789abcdef/video.mp4',
    `/api/jobs/${id}/video.mp4/../../../server.lock`,
    '//etc/passwd',
    '/api/../server.lock',
  ];
  for (const p of paths) {
    const r = await raw(p);
    assert.ok(r.status >= 400 && r.status < 500, `${p}: status ${r.status}`);
    assert.equal(typeof r.body?.error, 'string', `${p}: a JSON message, got ${r.text.slice(0, 80)}`);
    assert.equal(r.text.includes(lock), false, `${p}: the lock file's content leaked`);
    assert.doesNotMatch(r.text, /root:/, `${p}: /etc/passwd leaked`);
  }
  assert.equal((await raw('/api/jobs/..%2f..%2fserver.lock/video.mp4')).status, 400);
  assert.match((await raw('/api/jobs/0123456789ABCDEF')).body.error, /not a job id/);
  assert.match((await raw(`/api/jobs/${id}/job.json`)).body.error, /no such output/);
  await stillServing();
});

test('oversized bodies get 413, with a length and without one (chunked)', async () => {
  const big = JSON.stringify(twoShotJob({ story: { title: 'x'.repeat(70_000) } }));
  const a = await raw('/api/jobs', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: big,
  });
  assert.equal(a.status, 413);
  assert.match(a.body.error, /request body over 65536 bytes/);
  const chunks = Array.from({ length: 40 }, () => Buffer.alloc(4096, 0x20));
  const b = await raw('/api/jobs', {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' },
    body: chunks,
  });
  assert.equal(b.status, 413);
  await stillServing();
});

test('malformed JSON, a non-object body and a wrong content type get 400 and 415', async () => {
  const post = (body: string, type = 'application/json') =>
    raw('/api/jobs', { method: 'POST', headers: { 'content-type': type }, body });
  const cases: [string, string, number, RegExp][] = [
    ['{"story": {', 'application/json', 400, /^request body is not valid JSON/],
    ['', 'application/json', 400, /^request body is not valid JSON/],
    ['[1, 2]', 'application/json', 400, /^request body must be a JSON object/],
    ['null', 'application/json', 400, /^request body must be a JSON object/],
    [JSON.stringify(twoShotJob()), 'text/plain', 415, /Content-Type: application\/json/],
    [JSON.stringify(twoShotJob()), 'application/x-www-form-urlencoded', 415, /Content-Type/],
  ];
  for (const [body, type, status, re] of cases) {
    const r = await post(body, type);
    assert.equal(r.status, status, `${type} ${body.slice(0, 20)}: ${r.text}`);
    assert.match(r.body.error, re);
  }
  const none = await raw('/api/jobs', { method: 'POST', body: '{}' });
  assert.equal(none.status, 415);
  assert.equal((await raw('/api/nothing')).status, 404);
  assert.equal((await raw('/api/jobs', { method: 'DELETE' })).status, 404);
  await stillServing();
});

test('a foreign Host (DNS rebinding) or Origin (a web page) is refused without a token', async () => {
  const h = await raw('/api/jobs', { headers: { host: 'evil.example:8642' } });
  assert.equal(h.status, 403);
  assert.match(h.body.error, /not a loopback name/);
  const o = await raw('/api/jobs', { headers: { origin: 'http://evil.example' } });
  assert.equal(o.status, 403);
  assert.match(o.body.error, /cross-origin request from http:\/\/evil\.example refused/);
  const same = await raw('/api/jobs', { headers: { origin: server.url } });
  assert.equal(same.status, 200);
  await stillServing();
});

test('a flood of submissions: the queue takes its bound, the rest get 429, and the server keeps serving', async () => {
  await waitFor('an idle queue', async () => {
    const h = (await api(server.url, '/api/health')).body;
    return h.queued + h.running === 0 ? true : undefined;
  });
  const flood = await Promise.all(
    Array.from({ length: 24 }, (_, i) =>
      api(server.url, '/api/jobs', { json: twoShotJob({ steps: 1000, seed: i }) }),
    ),
  );
  const accepted = flood.filter((r) => r.status === 202);
  const refused = flood.filter((r) => r.status === 429);
  // one starts running at once; MAX_QUEUE wait behind it
  assert.equal(accepted.length, MAX_QUEUE + 1, flood.map((r) => r.status).join());
  assert.equal(refused.length, 24 - accepted.length);
  for (const r of refused)
    assert.match(r.body.error, /the queue is full \(3 jobs waiting, moga serve --max-queue 3\)/);
  await stillServing();
  assert.equal((await api(server.url, '/api/health')).body.queued, MAX_QUEUE);
  for (const r of accepted) await api(server.url, `/api/jobs/${r.body.id}/cancel`, { method: 'POST' });
  // and a submission is taken again once there is room
  const ok = await api(server.url, '/api/jobs', { json: twoShotJob({ steps: 1 }) });
  assert.equal(ok.status, 202, JSON.stringify(ok.body));
});

test('with a token: every request needs it (401 otherwise); exposure beyond the loopback needs one', async () => {
  const token = 'a-token-of-enough-length';
  const s = await startServer({ data: join(dir, 'data-token'), model, backend: 'ref', port: 0, token });
  try {
    const none = await api(s.url, '/api/jobs');
    assert.equal(none.status, 401);
    assert.match(none.body.error, /Authorization: Bearer/);
    assert.equal(none.headers.get('www-authenticate'), 'Bearer realm="moga"');
    assert.equal((await api(s.url, '/api/jobs', { headers: { authorization: 'Bearer wrong' } })).status, 401);
    assert.equal((await api(s.url, '/api/jobs', { headers: { authorization: token } })).status, 401);
    assert.equal(
      (await api(s.url, '/api/jobs', { headers: { authorization: `Bearer ${token}` } })).status,
      200,
    );
    assert.equal(
      (await api(s.url, '/api/jobs/..%2fx', { headers: { authorization: 'Bearer wrong' } })).status,
      401,
      'the token is checked before anything else',
    );
  } finally {
    await s.close();
  }
  for (const host of ['127.0.0.1', '127.1.2.3', 'localhost', '::1', '[::1]'])
    assert.ok(isLoopback(host), host);
  for (const host of ['0.0.0.0', '::', '192.168.1.4', 'example.com', '128.0.0.1'])
    assert.ok(!isLoopback(host), host);
  assert.throws(
    () => checkExposure('0.0.0.0', undefined),
    /--host 0\.0\.0\.0 would expose the server .* needs --token/,
  );
  assert.throws(() => checkExposure('0.0.0.0', 'short'), /at least 16 characters/);
  assert.doesNotThrow(() => checkExposure('0.0.0.0', token));
  assert.doesNotThrow(() => checkExposure('127.0.0.1', undefined));
  await assert.rejects(
    startServer({ data: join(dir, 'data-open'), model, host: '0.0.0.0', port: 0 }),
    /needs --token/,
  );
});

test('the studio page: public under a token (its calls are not), a fixed list of files, a strict CSP; not built: a clear 404', async () => {
  const token = 'a-token-of-enough-length';
  const studioDir = join(dir, 'studio');
  mkdirSync(studioDir, { recursive: true });
  writeFileSync(join(studioDir, 'index.html'), '<!doctype html><title>studio</title>');
  writeFileSync(join(studioDir, 'studio.js'), 'export {};');
  writeFileSync(join(studioDir, 'style.css'), 'body {}');
  writeFileSync(join(studioDir, 'secret.txt'), 'not served');
  const s = await startServer({
    data: join(dir, 'data-studio'),
    model,
    backend: 'ref',
    port: 0,
    token,
    studioDir,
  });
  try {
    const page = await fetch(s.url);
    assert.equal(page.status, 200, 'the page needs no token');
    assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
    assert.match(page.headers.get('content-security-policy') ?? '', /default-src 'none'.*connect-src 'self'/);
    assert.equal(await page.text(), '<!doctype html><title>studio</title>');
    const js = await fetch(`${s.url}/studio/studio.js`);
    assert.equal(js.status, 200, 'studio.js');
    assert.match(js.headers.get('content-type') ?? '', /^text\/javascript/);
    assert.equal((await fetch(`${s.url}/studio/style.css`)).status, 200, 'style.css');
    const other = await api(s.url, '/studio/secret.txt');
    assert.equal(other.status, 404, 'only the fixed names are served');
    assert.match(other.body.error, /no such studio file/);
    assert.equal((await api(s.url, '/studio/..%2f..%2fpackage.json')).status, 404, 'an encoded traversal');
    assert.equal((await api(s.url, '/api/jobs')).status, 401, 'the API still needs the token');
    assert.equal(
      (await api(s.url, '/', { method: 'POST' })).status,
      401,
      'only GET and HEAD of the page are public',
    );
  } finally {
    await s.close();
  }
  const bare = await startServer({
    data: join(dir, 'data-nostudio'),
    model,
    backend: 'ref',
    port: 0,
    studioDir: join(dir, 'no-such-dir'),
  });
  try {
    const r = await api(bare.url, '/');
    assert.equal(r.status, 404, 'no built page');
    assert.match(r.body.error, /studio page is not built .*run npm run build/);
  } finally {
    await bare.close();
  }
});

test('one server per data folder: a second one on the same folder is refused by name', async () => {
  await assert.rejects(
    startServer({ data: join(dir, 'data'), model, backend: 'ref', port: 0 }),
    /is in use by another moga serve \(pid \d+\)/,
  );
  await stillServing();
});
