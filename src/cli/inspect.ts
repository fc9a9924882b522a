/**
 * `moga inspect FILE.safetensors [--json]`: names, dtypes, shapes and sizes of every tensor, and
 * the metadata, from the header alone (nothing is decoded, so any size of file answers at once).
 */
import { parseArgs } from 'node:util';
import { inspectSafetensors } from '../io/safetensors.js';

const HELP = `usage: moga inspect FILE.safetensors [--json]

Lists every tensor of a safetensors file (name, dtype, shape, bytes) and its metadata, reading
only the header.

  --json       the same as JSON on stdout
  -h, --help   this text`;

export async function run(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help) {
    console.log(HELP);
    return;
  }
  if (positionals.length !== 1) throw new Error('inspect: give exactly one .safetensors file');
  const file = positionals[0];
  const { tensors, metadata } = inspectSafetensors(file);
  if (values.json) {
    console.log(JSON.stringify({ file, metadata, tensors }, null, 2));
    return;
  }
  const elems = tensors.reduce((a, t) => a + t.shape.reduce((x, d) => x * d, 1), 0);
  const bytes = tensors.reduce((a, t) => a + t.bytes, 0);
  console.log(
    `${file}: ${tensors.length} tensors, ${elems.toLocaleString('en')} elements, ${bytes.toLocaleString('en')} bytes of data`,
  );
  for (const [k, v] of Object.entries(metadata)) console.log(`metadata ${k}: ${v}`);
  const rows = tensors.map((t) => [t.name, t.dtype, `[${t.shape.join(', ')}]`, String(t.bytes)]);
  const head = ['name', 'dtype', 'shape', 'bytes'];
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  for (const r of [head, ...rows])
    console.log(r.map((c, i) => (i === 3 ? c.padStart(w[i]) : c.padEnd(w[i]))).join('  '));
}
