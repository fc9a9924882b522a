/**
 * The layering of docs/ARCHITECTURE.md, checked on the source: a folder of src/ imports only from
 * folders below it, so folders never form a loop. The upward edges that exist today are listed in
 * KNOWN with the reason; the test fails on any other one, and on a listed one that has gone (so the
 * list only shrinks).
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { test } from 'node:test';

/** Top to bottom, as docs/ARCHITECTURE.md draws them. */
const LAYERS = [
  'cli',
  'serve', // moga serve: HTTP API, job queue, worker process
  'eval',
  'pipeline',
  'story',
  'models',
  'diffusion',
  'train',
  'attention',
  'nn',
  'tensor',
  'backends',
  'data',
  'video',
  'io',
  'core', // the op contract, shapes, dtypes and the attention plan: imports nothing
];

/** Upward imports that exist today (issue 12: moving what they use into `core` removes them). */
const KNOWN = new Set([
  'data -> tensor', // the world's frames as tensors (data/world/to-tensor.ts)
  'io -> tensor', // safetensors and params files read into tensors
  'io -> nn', // params files walk the params trees of nn/
]);

function folderEdges(): Map<string, string[]> {
  const edges = new Map<string, string[]>();
  const files = readdirSync('src', { recursive: true })
    .map(String)
    .filter((f) => f.endsWith('.ts') && f.includes('/'));
  for (const f of files) {
    const from = f.split('/')[0];
    const text = readFileSync(join('src', f), 'utf8');
    for (const m of text.matchAll(/(?:from|import)\s*\(?\s*'(\.{1,2}\/[^']+)'/g)) {
      const to = relative('src', normalize(join('src', dirname(f), m[1]))).split('/')[0];
      if (to !== from && !to.startsWith('..') && !to.includes('.')) {
        const key = `${from} -> ${to}`;
        edges.set(key, [...(edges.get(key) ?? []), f]);
      }
    }
  }
  return edges;
}

test('src/ folders import only downwards (docs/ARCHITECTURE.md), apart from the known edges', () => {
  const edges = folderEdges();
  const folders = new Set([...edges.keys()].flatMap((k) => k.split(' -> ')));
  const unknown = [...folders].filter((f) => !LAYERS.includes(f));
  assert.deepEqual(unknown, [], `folders missing from the layer list (and the document): ${unknown}`);
  const upward = [...edges.keys()].filter((k) => {
    const [a, b] = k.split(' -> ');
    return LAYERS.indexOf(b) < LAYERS.indexOf(a);
  });
  const fresh = upward.filter((k) => !KNOWN.has(k));
  assert.deepEqual(fresh, [], fresh.map((k) => `${k}: ${edges.get(k)!.slice(0, 3).join(', ')}`).join('\n'));
  const gone = [...KNOWN].filter((k) => !upward.includes(k));
  assert.deepEqual(gone, [], `no longer imported upwards, remove from KNOWN: ${gone}`);
});
