/**
 * A seeded fuzzer for the safetensors reader (src/io/safetensors.ts), the third file a user hands
 * moga. Each case builds a valid file (0-4 tensors of any of the 15 dtypes, random bytes, maybe
 * metadata) and applies 1-3 mutations: a hostile dtype (`__proto__`, `toString`, sub-byte F4, a
 * number), shape (negative, fractional, 2^53, 40 dimensions of 2), data_offsets (shifted, swapped,
 * overlapping another tensor's, past the end, wrong arity), a prototype-named key, bad
 * `__metadata__`, a missing field, a damaged JSON text (a byte flipped, inserted, deleted, invalid
 * UTF-8, cut short, nested 100,000 deep), a wrong header length, a truncated file or trailing bytes.
 *
 * Contract: `parseSafetensors` and `inspectSafetensors` (every 16th case also `readSafetensors` from
 * a file) either load, with every tensor's `data` and `bytes` of the size its shape says, or throw
 * a SafetensorsError naming the source (and no NaN, function or [object ...] in its message);
 * decoding (`.data`) may refuse only with one too. Anything
 * else (TypeError, RangeError, a typed-array length error) is a crash and fails with the seed and
 * the case; so does a case that takes over 2 s of CPU, or that leaves more than 256 MB of array
 * buffers allocated.
 *
 * 2,000 cases by default (a few seconds); MOGA_FUZZ_CASES=100000 for the long mode.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import {
  inspectSafetensors,
  parseSafetensors,
  readSafetensors,
  type SafeFile,
  SafetensorsError,
} from '../../src/io/safetensors.js';
import { CASES, type Rng, rng, SEED } from './rng.js';

const SIZES: Record<string, number> = {
  BOOL: 1,
  U8: 1,
  I8: 1,
  U16: 2,
  I16: 2,
  U32: 4,
  I32: 4,
  U64: 8,
  I64: 8,
  F8_E4M3: 1,
  F8_E5M2: 1,
  F16: 2,
  BF16: 2,
  F32: 4,
  F64: 8,
};
const DTYPES = Object.keys(SIZES);
const ODD_DTYPES: readonly unknown[] = [
  '__proto__',
  'toString',
  'constructor',
  'valueOf',
  'hasOwnProperty',
  'F4',
  'F6_E2M3',
  'F8_E8M0',
  'f32',
  'F32 ',
  '',
  null,
  1,
  [],
  {},
  ['F32'],
];
const ODD_SHAPES: readonly unknown[] = [
  [-1],
  [1.5],
  [2 ** 53],
  [2 ** 31, 2 ** 31],
  [1e308],
  [Number.MAX_SAFE_INTEGER, 0],
  ['3'],
  [[2]],
  [null],
  null,
  '2',
  {},
  Array(40).fill(2),
  Array(2000).fill(1),
  [0],
  [],
];
const KEYS = ['__proto__', 'constructor', 'toString', 'valueOf', 'hasOwnProperty', '__metadata__', ''];
const ODD_VALUES: readonly unknown[] = [null, 0, -1, 1.5, 'x', '', [], {}, [1], true, 2 ** 64];
/** CPU time (this process, all threads), so a loaded machine descheduling the test does not count. */
const MAX_CASE_CPU_MS = 2000;
const MAX_ARRAY_BUFFERS = 256 * 2 ** 20;

type Header = Record<string, unknown>;
interface Case {
  header: Header;
  data: Uint8Array;
  /** What was done to the valid file, for the failure message. */
  ops: string[];
  /** How deep the DEEP marker's list is nested, if one was placed. */
  deep?: number;
  /** Raw edits of the encoded file, applied in order. */
  raw: ((file: Uint8Array) => Uint8Array)[];
}

/** An object with no prototype, so a key named "__proto__" is an own key JSON.stringify writes. */
const bare = (): Header => Object.create(null);

function randomBytes(r: Rng, n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = r.int(256);
  return b;
}

/** A valid file: 0-4 tensors laid end to end, random bytes, maybe metadata. */
function validCase(r: Rng): Case {
  const header = bare();
  if (r.next() < 0.3) header.__metadata__ = { format: 'fuzz', step: String(r.int(100)) };
  let at = 0;
  for (let k = r.int(5); k > 0; k--) {
    const dtype = r.pick(DTYPES);
    const shape = Array.from({ length: r.int(4) }, () => r.int(6));
    const bytes = shape.reduce((a, d) => a * d, 1) * SIZES[dtype];
    header[`t${k}.${r.pick(['weight', 'bias', 'x'])}`] = { dtype, shape, data_offsets: [at, at + bytes] };
    at += bytes;
  }
  return { header, data: randomBytes(r, at), ops: [], raw: [] };
}

/** Stands for a deeply nested list in the header until `encode` writes it. */
const DEEP = '@@deep@@';

/** The header length (u64 LE) + the JSON text + the data buffer. */
function encode(c: Case): Uint8Array {
  const d = c.deep ?? 0;
  const text = JSON.stringify(c.header).replaceAll(`"${DEEP}"`, `${'['.repeat(d)}${']'.repeat(d)}`);
  const json = new TextEncoder().encode(text);
  const file = new Uint8Array(8 + json.length + c.data.length);
  new DataView(file.buffer).setBigUint64(0, BigInt(json.length), true);
  file.set(json, 8);
  file.set(c.data, 8 + json.length);
  return c.raw.reduce<Uint8Array>((f, edit) => edit(f), file);
}

const tensorsOf = (h: Header) => Object.keys(h).filter((k) => k !== '__metadata__');

/** The [begin, end] of an entry as numbers, [0, 0] where an earlier mutation broke them. */
function offsetsOf(entry: unknown): [number, number] {
  const o = (entry as { data_offsets?: unknown } | null)?.data_offsets;
  return Array.isArray(o) && typeof o[0] === 'number' && typeof o[1] === 'number' ? [o[0], o[1]] : [0, 0];
}

/** One mutation of `c` (in place). */
function mutate(c: Case, r: Rng): void {
  const names = tensorsOf(c.header);
  const name = names.length ? r.pick(names) : null;
  const value = name ? c.header[name] : null;
  // an entry an earlier mutation replaced by a non-object is left as it is
  const entry =
    value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
  const op = r.int(14);
  const note = (s: string) => c.ops.push(s);
  if (op === 0 && entry) {
    entry.dtype = r.next() < 0.7 ? r.pick(ODD_DTYPES) : r.pick(DTYPES);
    note(`dtype of ${name} = ${JSON.stringify(entry.dtype)}`);
  } else if (op === 1 && entry) {
    entry.shape = structuredClone(r.pick(ODD_SHAPES));
    note(`shape of ${name} = ${JSON.stringify(entry.shape)?.slice(0, 40)}`);
  } else if (op === 2 && entry) {
    const [b, e] = offsetsOf(entry);
    const d = r.pick([-9, -1, 1, 8, 2 ** 31, 2 ** 53]);
    const next = r.pick([
      [b + d, e],
      [b, e + d],
      [b + d, e + d],
      [e, b],
      [0, 2 ** 53],
      [-1, 0],
      [b],
      [b, e, e],
      [b + 0.5, e],
      [String(b), e],
      null,
    ]);
    entry.data_offsets = next;
    note(`data_offsets of ${name} = ${JSON.stringify(next)}`);
  } else if (op === 3 && entry && names.length >= 2) {
    // another tensor's range, or one overlapping it by a byte
    const [b, e] = offsetsOf(c.header[r.pick(names)]);
    entry.data_offsets = r.next() < 0.5 ? [b, e] : [Math.max(0, b + 1), e + 1];
    note(`data_offsets of ${name} = ${JSON.stringify(entry.data_offsets)} (overlap)`);
  } else if (op === 4) {
    const key = r.pick(KEYS);
    c.header[key] = structuredClone(
      r.pick([...ODD_VALUES, { dtype: 'F32', shape: [0], data_offsets: [0, 0] }]),
    );
    note(`key ${JSON.stringify(key)} = ${JSON.stringify(c.header[key])}`);
  } else if (op === 5) {
    const meta = r.pick<unknown>([null, [], 'x', 1, { a: 1 }, { __proto__: 'x' }, { b: null }, { c: ['x'] }]);
    c.header.__metadata__ = structuredClone(meta);
    note(`__metadata__ = ${JSON.stringify(meta)}`);
  } else if (op === 6 && name) {
    c.header[name] = structuredClone(r.pick(ODD_VALUES));
    note(`entry ${name} = ${JSON.stringify(c.header[name])}`);
  } else if (op === 7 && entry) {
    const field = r.pick(['dtype', 'shape', 'data_offsets']);
    delete entry[field];
    entry[r.pick(['extra', '__proto__', 'constructor'])] = 1;
    note(`${name}: ${field} removed, an extra key added`);
  } else if (op === 8) {
    // damage the JSON text itself
    const kind = r.int(6);
    c.raw.push((f) => {
      if (f.length < 9) return f; // cut short by an earlier edit
      const hlen = Math.min(f.length - 8, Number(new DataView(f.buffer, f.byteOffset).getBigUint64(0, true)));
      const at = 8 + r.int(Math.max(1, hlen));
      const out = f.slice();
      if (kind === 0) out[at] = r.int(256);
      else if (kind === 1)
        out[at] = 0xff; // never valid in UTF-8
      else if (kind === 2)
        out[at] = r.pick([0x22, 0x7b, 0x7d, 0x5b, 0x5d, 0x2c, 0x3a, 0x5c, 0x00]); // " { } [ ] , : \ NUL
      else if (kind === 3) return Uint8Array.from([...f.subarray(0, at), ...f.subarray(at + 1)]);
      else if (kind === 4)
        out.fill(0x20, at, 8 + hlen); // the text cut short (spaces after)
      else out[at] = 0x20;
      return out;
    });
    note(`JSON text damaged (kind ${kind})`);
  } else if (op === 9) {
    const n = r.pick([0, 1, 2, 7, -1, 1, 2 ** 32, 100_000_001, 2 ** 63, 2 ** 64 - 1]);
    c.raw.push((f) => {
      if (f.length < 8) return f; // cut short by an earlier edit
      const out = f.slice();
      const dv = new DataView(out.buffer);
      const hlen = dv.getBigUint64(0, true);
      const v = n < 0 || n === 1 || n === 2 ? hlen + BigInt(n) : BigInt(Math.min(n, 2 ** 64 - 1));
      dv.setBigUint64(0, BigInt.asUintN(64, v), true);
      return out;
    });
    note(`header length ${n < 0 || n === 1 || n === 2 ? `+ ${n}` : `= ${n}`}`);
  } else if (op === 10) {
    const keep = r.next();
    c.raw.push((f) => f.subarray(0, Math.floor(f.length * keep)));
    note(`truncated to ${(keep * 100).toFixed(0)}%`);
  } else if (op === 11) {
    const extra = randomBytes(r, 1 + r.int(16));
    c.raw.push((f) => Uint8Array.from([...f, ...extra]));
    note(`${extra.length} trailing bytes`);
  } else if (op === 12) {
    // a value nested deep (JSON.parse takes any depth, JSON.stringify of it overflows the stack)
    c.deep = r.pick([50, 50, 5000, 100_000]);
    const where = entry ? r.pick(['dtype', 'shape', 'data_offsets', 'entry', 'meta']) : 'meta';
    if (where === 'entry') c.header[name!] = DEEP;
    else if (where === 'meta') c.header.__metadata__ = { a: DEEP };
    else entry![where] = DEEP;
    note(
      `${where === 'entry' ? name : where === 'meta' ? '__metadata__.a' : `${where} of ${name}`} nested ${c.deep} deep`,
    );
  } else if (op === 13) {
    // many tensors of zero bytes (a long header)
    const n = r.pick([100, 1000]);
    for (let k = 0; k < n; k++)
      c.header[`z${k}`] = { dtype: r.pick(DTYPES), shape: [0], data_offsets: [0, 0] };
    note(`${n} empty tensors`);
  } else note('no-op');
}

/**
 * A refusal the contract allows: a SafetensorsError naming `source`, whose message names no
 * artefact of a lookup gone wrong (a dtype named "toString" once got "needs NaN bytes").
 */
function namedRefusal(e: unknown, source: string): boolean {
  return (
    e instanceof SafetensorsError &&
    e.message.startsWith(`safetensors ${source}: `) &&
    e.message.length > `safetensors ${source}: `.length &&
    !/NaN|\[object |function|=>/.test(e.message)
  );
}

/** Every tensor's size agrees with its shape (decoding each). */
function checkLoaded(f: SafeFile, where: string): void {
  for (const [name, t] of f.tensors) {
    const elems = t.shape.reduce((a, d) => a * d, 1);
    assert.equal(t.bytes.length, elems * SIZES[t.dtype], `${where}: ${name} bytes`);
    assert.equal(t.data.length, elems, `${where}: ${name} data`);
  }
}

const dir = mkdtempSync(join(tmpdir(), 'moga-fuzz-st-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test(`safetensors headers: ${CASES} mutated files load or are refused by name, never crash`, {
  timeout: Math.max(120_000, CASES * 10),
}, () => {
  const r = rng(SEED + 2);
  const counts = { loaded: 0, refused: 0, files: 0 };
  const t0 = performance.now();
  let slowest = 0;
  for (let i = 0; i < CASES; i++) {
    const c = validCase(r);
    for (let m = 1 + r.int(3); m > 0; m--) mutate(c, r);
    const bytes = encode(c);
    const what = () =>
      `case ${i} (seed ${SEED}): ${c.ops.join('; ')}\nheader: ${JSON.stringify(c.header).slice(0, 400)}`;
    const start = process.cpuUsage();
    const base = process.memoryUsage().arrayBuffers;
    let loaded = false;
    try {
      checkLoaded(parseSafetensors(bytes, 'fuzz'), what());
      loaded = true;
    } catch (e) {
      if (e instanceof assert.AssertionError) throw e;
      if (!namedRefusal(e, 'fuzz')) assert.fail(`${what()}\ncrashed with ${(e as Error)?.stack ?? e}`);
    }
    // the header-only view agrees with the full read, except on what only decoding finds
    let inspected = false;
    try {
      inspectSafetensors(bytes, 'fuzz');
      inspected = true;
    } catch (e) {
      if (!namedRefusal(e, 'fuzz'))
        assert.fail(`${what()}\ninspect crashed with ${(e as Error)?.stack ?? e}`);
    }
    assert.ok(inspected || !loaded, `${what()}\ninspect refused a file that loads`);
    if (i % 16 === 0) {
      counts.files++;
      const path = join(dir, `case-${i % 64}.safetensors`);
      writeFileSync(path, bytes);
      try {
        checkLoaded(readSafetensors(path), what());
        assert.ok(loaded, `${what()}\nthe file loads but the same bytes in memory do not`);
      } catch (e) {
        if (e instanceof assert.AssertionError) throw e;
        if (!namedRefusal(e, path))
          assert.fail(`${what()}\nreading the file crashed with ${(e as Error)?.stack ?? e}`);
        assert.ok(
          !loaded,
          `${what()}\nthe bytes load in memory but not from a file: ${(e as Error).message}`,
        );
      }
    }
    const grown = process.memoryUsage().arrayBuffers - base;
    assert.ok(grown < MAX_ARRAY_BUFFERS, `${what()}\nleft ${grown} bytes of array buffers allocated`);
    const used = process.cpuUsage(start);
    const ms = (used.user + used.system) / 1000;
    slowest = Math.max(slowest, ms);
    assert.ok(ms < MAX_CASE_CPU_MS, `${what()}\ntook ${ms.toFixed(0)} ms of CPU`);
    if (loaded) counts.loaded++;
    else counts.refused++;
  }
  const seconds = (performance.now() - t0) / 1000;
  const rss = process.resourceUsage().maxRSS / 1024;
  console.log(
    `safetensors fuzz: ${CASES} cases (seed ${SEED}): ${counts.loaded} loaded, ${counts.refused} refused by name, ${counts.files} also read from a file; ${seconds.toFixed(1)} s, slowest case ${slowest.toFixed(0)} ms of CPU, peak RSS ${rss.toFixed(0)} MB`,
  );
  // both outcomes must be common, or the mutations are not exploring the reader
  assert.ok(counts.loaded > CASES / 20, `only ${counts.loaded} of ${CASES} cases loaded`);
  assert.ok(counts.refused > CASES / 2, `only ${counts.refused} of ${CASES} cases were refused`);
  assert.ok(rss < 1024, `peak RSS ${rss.toFixed(0)} MB`);
});
