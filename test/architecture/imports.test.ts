/**
 * The layering of docs/ARCHITECTURE.md, checked on the source: a folder of src/ imports only from
 * folders below it, so folders never form a loop. The test fails on any upward edge, naming the
 * files that make it.
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

test('src/ folders import only downwards (docs/ARCHITECTURE.md)', () => {
  const edges = folderEdges();
  const folders = new Set([...edges.keys()].flatMap((k) => k.split(' -> ')));
  const unknown = [...folders].filter((f) => !LAYERS.includes(f));
  assert.deepEqual(unknown, [], `folders missing from the layer list (and the document): ${unknown}`);
  const upward = [...edges.keys()].filter((k) => {
    const [a, b] = k.split(' -> ');
    return LAYERS.indexOf(b) < LAYERS.indexOf(a);
  });
  assert.deepEqual(upward, [], upward.map((k) => `${k}: ${edges.get(k)!.slice(0, 3).join(', ')}`).join('\n'));
});
