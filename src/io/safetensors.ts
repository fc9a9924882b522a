/**
 * safetensors read/write (https://github.com/huggingface/safetensors):
 *   [u64 little-endian header length N][N bytes of JSON header][data buffer]
 * header = { "<name>": { dtype, shape, data_offsets: [begin, end] }, "__metadata__"?: {str: str} },
 * offsets relative to the start of the data buffer.
 *
 * Read: every byte-sized dtype of the format (BOOL, U8, I8, U16, I16, U32, I32, U64, I64, F8_E4M3,
 * F8_E5M2, F16, BF16, F32, F64); a tensor keeps its stored bytes and decodes them on first use of
 * `data` (floats to float32, integers and BOOL to int32, refusing by index a value int32 cannot
 * hold). `openSafetensors` reads tensors one at a time from an open file; `inspectSafetensors` reads
 * only the header. Written: F32, F16, BF16, I32 (what moga's tensors hold).
 * Everything in the header is checked against the buffer before any tensor byte is read, so a
 * corrupt or hostile file gets an error naming the tensor and the problem, never an out-of-range
 * read: offsets must lie inside the data, not overlap, and together cover it exactly (as the
 * reference implementation demands).
 */
import { closeSync, fstatSync, fsyncSync, openSync, readSync, unlinkSync, writeSync } from 'node:fs';
import { endianness } from 'node:os';
import { writeFileAtomic } from './atomic-file.js';

/** On little-endian hosts (all current Node targets) 4-byte data is copied, not decoded. */
const HOST_LE = endianness() === 'LE';

/** Bytes per element of every dtype this reader knows (sub-byte F4/F6 and F8_E8M0 are refused). */
const ELEM_BYTES: Record<SafeDType, number> = {
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

export type SafeDType =
  | 'BOOL'
  | 'U8'
  | 'I8'
  | 'U16'
  | 'I16'
  | 'U32'
  | 'I32'
  | 'U64'
  | 'I64'
  | 'F8_E4M3'
  | 'F8_E5M2'
  | 'F16'
  | 'BF16'
  | 'F32'
  | 'F64';

/** The dtypes the writer produces. */
const WRITABLE: readonly SafeDType[] = ['F32', 'F16', 'BF16', 'I32'];

/** A dtype name from a header, looked up as an own key (so "toString" or "__proto__" is unknown). */
function isDType(d: unknown): d is SafeDType {
  return typeof d === 'string' && Object.hasOwn(ELEM_BYTES, d);
}

/** A tensor as stored; `data` decodes `bytes` on first use (and keeps the result). */
export interface SafeTensor {
  /** The dtype stored in the file. */
  readonly dtype: SafeDType;
  readonly shape: readonly number[];
  /** The stored bytes, little-endian, exactly as in the file (for exact I64, U64 or F64 values). */
  readonly bytes: Uint8Array;
  /** Floats as float32, integers and BOOL as int32 (an error names a value int32 cannot hold). */
  readonly data: Float32Array | Int32Array;
}

export interface SafeFile {
  /** TensorsToWrite in file order (ascending data offset). */
  readonly tensors: Map<string, SafeTensor>;
  readonly metadata: Record<string, string>;
}

/** What to write: float32 data may be stored as F32 (default), F16 or BF16. */
export interface TensorToWrite {
  readonly shape: readonly number[];
  readonly data: Float32Array | Int32Array;
  readonly dtype?: SafeDType;
}

export class SafetensorsError extends Error {
  constructor(source: string, message: string) {
    super(`safetensors ${source}: ${message}`);
    this.name = 'SafetensorsError';
  }
}

/** Headers above this are refused (the reference implementation caps them at 100 MB). */
const MAX_HEADER = 100_000_000;

interface Entry {
  name: string;
  dtype: SafeDType;
  shape: number[];
  begin: number;
  end: number;
}

/** The header length from the first 8 bytes, checked against the file size. */
function headerLength(first8: Uint8Array, fileSize: number, source: string): number {
  const fail = (m: string) => new SafetensorsError(source, m);
  if (fileSize < 8 || first8.length < 8)
    throw fail(`file is ${fileSize} bytes, too short for the 8-byte header length`);
  const n = new DataView(first8.buffer, first8.byteOffset, 8).getBigUint64(0, true);
  if (n > BigInt(fileSize - 8))
    throw fail(`header length ${n} goes beyond the end of the file (${fileSize - 8} bytes after the length)`);
  if (n > BigInt(MAX_HEADER)) throw fail(`header length ${n} exceeds the ${MAX_HEADER}-byte limit`);
  return Number(n);
}

/**
 * A header value for an error message: its JSON, cut to 100 characters. A value nested too deep
 * for JSON.stringify (JSON.parse accepts any depth) is described instead of crashing the message.
 */
function show(v: unknown): string {
  let s: string | undefined;
  try {
    s = JSON.stringify(v);
  } catch {
    return 'a value nested too deep to print';
  }
  s ??= String(v);
  return s.length > 100 ? `${s.slice(0, 97)}...` : s;
}

/**
 * Parses and validates the header; returns entries sorted by offset and the data start.
 * `bytes` holds at least the length and the header; `fileSize` is the whole file's size.
 */
function parseHeader(bytes: Uint8Array, source: string, fileSize = bytes.length) {
  const fail = (m: string) => new SafetensorsError(source, m);
  const hlen = headerLength(bytes, fileSize, source);
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + hlen)));
  } catch (e) {
    throw fail(`header is not valid UTF-8 JSON (${(e as Error).message})`);
  }
  if (!json || typeof json !== 'object' || Array.isArray(json)) throw fail('header is not a JSON object');
  const dataStart = 8 + hlen;
  const dataLen = fileSize - dataStart;
  const metadata: Record<string, string> = {};
  const entries: Entry[] = [];
  for (const [name, v] of Object.entries(json as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (!v || typeof v !== 'object' || Array.isArray(v)) throw fail('__metadata__ is not an object');
      for (const [k, s] of Object.entries(v)) {
        if (typeof s !== 'string') throw fail(`__metadata__ value '${k}' is not a string`);
        metadata[k] = s;
      }
      continue;
    }
    const bad = (m: string) => fail(`tensor '${name}': ${m}`);
    if (!v || typeof v !== 'object') throw bad('entry is not an object');
    const { dtype, shape, data_offsets: off } = v as Record<string, unknown>;
    if (!isDType(dtype))
      throw bad(
        `unknown or unsupported dtype ${show(dtype)} (supported: ${Object.keys(ELEM_BYTES).join(', ')})`,
      );
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0))
      throw bad(`shape ${show(shape)} is not a list of non-negative integers`);
    if (!Array.isArray(off) || off.length !== 2 || !off.every((o) => Number.isSafeInteger(o) && o >= 0))
      throw bad(`data_offsets ${show(off)} is not a pair of non-negative integers`);
    const [begin, end] = off as number[];
    if (end < begin) throw bad(`data_offsets [${begin}, ${end}] end before they begin`);
    if (end > dataLen)
      throw bad(
        `data_offsets [${begin}, ${end}] out of range: the data buffer has ${dataLen} bytes (file truncated?)`,
      );
    const elems = (shape as number[]).reduce((a, d) => a * d, 1);
    const want = elems * ELEM_BYTES[dtype];
    if (want !== end - begin)
      throw bad(
        `shape [${shape.join(', ')}] of ${dtype} needs ${want} bytes but data_offsets span ${end - begin}`,
      );
    entries.push({ name, dtype, shape: shape as number[], begin, end });
  }
  entries.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let at = 0;
  for (const e of entries) {
    if (e.begin < at)
      throw fail(
        `tensor '${e.name}': data_offsets [${e.begin}, ${e.end}] overlap the previous tensor (ends at ${at})`,
      );
    if (e.begin > at)
      throw fail(`tensor '${e.name}': gap in the data buffer: bytes [${at}, ${e.begin}) belong to no tensor`);
    at = e.end;
  }
  if (at !== dataLen)
    throw fail(
      `tensors cover ${at} bytes but the data buffer has ${dataLen}: trailing bytes belong to no tensor`,
    );
  return { entries, metadata, dataStart };
}

// ---- half-precision conversion ----

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

function f16ToF32(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? Number.NaN : s * Number.POSITIVE_INFINITY;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

/** float32 -> IEEE half, round to nearest even (overflow to inf, NaN kept quiet). */
export function f32ToF16(v: number): number {
  f32[0] = v;
  const x = u32[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  const man = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (man ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    // subnormal half (or zero): shift the full mantissa (with its implicit 1) right
    if (e < -10) return sign;
    const full = man | 0x800000;
    const shift = 14 - e; // 24-bit mantissa -> 10 bits at exponent 1-15
    const half = full >>> shift;
    const rem = full & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    return sign | (rem > mid || (rem === mid && half & 1) ? half + 1 : half);
  }
  const half = (e << 10) | (man >>> 13);
  const rem = man & 0x1fff;
  // a carry out of the mantissa correctly bumps the exponent (up to inf)
  return sign | (rem > 0x1000 || (rem === 0x1000 && half & 1) ? half + 1 : half);
}

/** float32 -> bfloat16 bits, round to nearest even (NaN kept quiet). */
export function f32ToBf16(v: number): number {
  f32[0] = v;
  const x = u32[0];
  if ((x & 0x7f800000) === 0x7f800000 && x & 0x7fffff) return ((x >>> 16) | 0x40) & 0xffff;
  return ((x + 0x7fff + ((x >>> 16) & 1)) >>> 16) & 0xffff;
}

function f8e4m3ToF32(b: number): number {
  // the "fn" variant (PyTorch float8_e4m3fn): bias 7, no infinities, S.1111.111 is NaN
  const s = b & 0x80 ? -1 : 1;
  const e = (b >> 3) & 0xf;
  const m = b & 7;
  if (e === 15 && m === 7) return Number.NaN;
  return e === 0 ? s * m * 2 ** -9 : s * (1 + m / 8) * 2 ** (e - 7);
}

/** Element i of a little-endian buffer as a number (64-bit integers as bigint). */
function element(dv: DataView, dtype: SafeDType, i: number): number | bigint {
  switch (dtype) {
    case 'BOOL':
      return dv.getUint8(i) ? 1 : 0;
    case 'U8':
      return dv.getUint8(i);
    case 'I8':
      return dv.getInt8(i);
    case 'U16':
      return dv.getUint16(i * 2, true);
    case 'I16':
      return dv.getInt16(i * 2, true);
    case 'U32':
      return dv.getUint32(i * 4, true);
    case 'I32':
      return dv.getInt32(i * 4, true);
    case 'U64':
      return dv.getBigUint64(i * 8, true);
    case 'I64':
      return dv.getBigInt64(i * 8, true);
    case 'F8_E4M3':
      return f8e4m3ToF32(dv.getUint8(i));
    case 'F8_E5M2':
      return f16ToF32(dv.getUint8(i) << 8); // the top byte of an IEEE half
    case 'F16':
      return f16ToF32(dv.getUint16(i * 2, true));
    case 'BF16':
      return bf16ToF32(dv.getUint16(i * 2, true));
    case 'F32':
      return dv.getFloat32(i * 4, true);
    case 'F64':
      return dv.getFloat64(i * 8, true);
  }
}

function bf16ToF32(h: number): number {
  u32[0] = h << 16;
  return f32[0];
}

const FLOAT = new Set<SafeDType>(['F8_E4M3', 'F8_E5M2', 'F16', 'BF16', 'F32', 'F64']);

/** Whether a dtype decodes to float32 (else to int32). */
export function isFloatDType(d: SafeDType): boolean {
  return FLOAT.has(d);
}

/** Decodes one tensor's stored bytes; `where` names it in errors. */
function decode(bytes: Uint8Array, dtype: SafeDType, where: string): Float32Array | Int32Array {
  const n = bytes.length / ELEM_BYTES[dtype];
  if (HOST_LE && (dtype === 'I32' || dtype === 'F32')) {
    const out = dtype === 'I32' ? new Int32Array(n) : new Float32Array(n);
    new Uint8Array(out.buffer).set(bytes);
    return out;
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  if (FLOAT.has(dtype)) {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = element(dv, dtype, i) as number;
    return out;
  }
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const v = element(dv, dtype, i);
    if (v < -2147483648 || v > 2147483647)
      throw new SafetensorsError(
        where,
        `${dtype} value ${v} at index ${i} does not fit in int32 (read the exact values from .bytes)`,
      );
    out[i] = Number(v);
  }
  return out;
}

/** A SafeTensor over its stored bytes, decoded on first use of `data`. */
function safeTensor(e: Entry, bytes: Uint8Array, source: string): SafeTensor {
  let data: Float32Array | Int32Array | undefined;
  return {
    dtype: e.dtype,
    shape: e.shape,
    bytes,
    get data() {
      data ??= decode(bytes, e.dtype, `${source}: tensor '${e.name}'`);
      return data;
    },
  };
}

/** Parses a whole safetensors file held in memory. `source` names it in errors. */
export function parseSafetensors(bytes: Uint8Array, source = '<buffer>'): SafeFile {
  const { entries, metadata, dataStart } = parseHeader(bytes, source);
  const data = bytes.subarray(dataStart);
  const tensors = new Map<string, SafeTensor>();
  for (const e of entries) tensors.set(e.name, safeTensor(e, data.subarray(e.begin, e.end), source));
  return { tensors, metadata };
}

/** TensorsToWrite to write, by name, in order. */
export type TensorsToWrite = Iterable<[string, TensorToWrite]> | Record<string, TensorToWrite>;

interface WritePlan {
  /** The 8-byte length followed by the space-padded JSON header. */
  readonly head: Uint8Array;
  readonly items: { name: string; t: TensorToWrite; dtype: SafeDType }[];
  readonly dataBytes: number;
}

/** Validates what to write and lays out the header (offsets in the given order). */
function planWrite(tensors: TensorsToWrite, metadata: Record<string, string>): WritePlan {
  const list =
    Symbol.iterator in tensors
      ? [...(tensors as Iterable<[string, TensorToWrite]>)]
      : Object.entries(tensors);
  // no prototype: a tensor named "__proto__" is a key like any other
  const header: Record<string, unknown> = Object.create(null);
  if (Object.keys(metadata).length) {
    for (const [k, v] of Object.entries(metadata))
      if (typeof v !== 'string')
        throw new Error(`safetensors metadata '${k}' must be a string, got ${typeof v}`);
    header.__metadata__ = metadata;
  }
  let at = 0;
  const items: WritePlan['items'] = [];
  for (const [name, t] of list) {
    if (name === '__metadata__')
      throw new Error("safetensors: '__metadata__' is reserved and cannot name a tensor");
    if (Object.hasOwn(header, name)) throw new Error(`safetensors: duplicate tensor name '${name}'`);
    const dtype = t.dtype ?? (t.data instanceof Int32Array ? 'I32' : 'F32');
    if (!WRITABLE.includes(dtype))
      throw new Error(
        `safetensors: tensor '${name}': cannot write dtype '${dtype}' (writable: ${WRITABLE.join(', ')})`,
      );
    if ((dtype === 'I32') !== t.data instanceof Int32Array)
      throw new Error(
        `safetensors: tensor '${name}': dtype ${dtype} does not match its ${t.data.constructor.name} data`,
      );
    const elems = t.shape.reduce((a, d) => a * d, 1);
    if (elems !== t.data.length)
      throw new Error(
        `safetensors: tensor '${name}': shape [${t.shape.join(', ')}] has ${elems} elements, data has ${t.data.length}`,
      );
    const bytes = elems * ELEM_BYTES[dtype];
    header[name] = { dtype, shape: [...t.shape], data_offsets: [at, at + bytes] };
    items.push({ name, t, dtype });
    at += bytes;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  // pad with spaces so the data buffer starts 8-byte aligned (as the reference writer does)
  const hlen = Math.ceil((8 + json.length) / 8) * 8 - 8;
  const head = new Uint8Array(8 + hlen).fill(0x20);
  new DataView(head.buffer).setBigUint64(0, BigInt(hlen), true);
  head.set(json, 8);
  return { head, items, dataBytes: at };
}

/** One tensor's bytes in the file's little-endian layout. */
function encodeTensor(t: TensorToWrite, dtype: SafeDType): Uint8Array {
  const d = t.data;
  const n = d.length;
  if (HOST_LE && (dtype === 'F32' || dtype === 'I32'))
    return new Uint8Array(d.buffer, d.byteOffset, n * 4).slice();
  const out = new Uint8Array(n * ELEM_BYTES[dtype]);
  const dv = new DataView(out.buffer);
  if (dtype === 'F32') for (let i = 0; i < n; i++) dv.setFloat32(i * 4, d[i], true);
  else if (dtype === 'I32') for (let i = 0; i < n; i++) dv.setInt32(i * 4, d[i], true);
  else if (dtype === 'F16') for (let i = 0; i < n; i++) dv.setUint16(i * 2, f32ToF16(d[i]), true);
  else for (let i = 0; i < n; i++) dv.setUint16(i * 2, f32ToBf16(d[i]), true);
  return out;
}

/** Encodes tensors (in the given order) and string metadata as a safetensors file in memory. */
export function serializeSafetensors(
  tensors: TensorsToWrite,
  metadata: Record<string, string> = {},
): Uint8Array {
  const plan = planWrite(tensors, metadata);
  const out = new Uint8Array(plan.head.length + plan.dataBytes);
  out.set(plan.head, 0);
  let at = plan.head.length;
  for (const { t, dtype } of plan.items) {
    const b = encodeTensor(t, dtype);
    out.set(b, at);
    at += b.length;
  }
  return out;
}

/** An open safetensors file: the validated header, and tensors read one at a time. */
export interface SafetensorsReader {
  readonly path: string;
  /** Names, dtypes, shapes and byte sizes, in file order. */
  readonly entries: readonly { name: string; dtype: SafeDType; shape: readonly number[]; bytes: number }[];
  readonly metadata: Record<string, string>;
  /** Reads one tensor's bytes now (decoded on first use of its `data`). */
  read(name: string): SafeTensor;
  close(): void;
}

/**
 * Opens a safetensors file and validates its header against the file size; tensors are read only
 * when asked for, so files beyond Node's 2 GB buffer limit, or a few tensors of a large one, load.
 */
export function openSafetensors(path: string): SafetensorsReader {
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    throw new SafetensorsError(path, `cannot read (${(e as Error).message})`);
  }
  try {
    const size = fstatSync(fd).size;
    const hlen = headerLength(readAt(fd, 0, Math.min(8, size)), size, path);
    const { entries, metadata, dataStart } = parseHeader(readAt(fd, 0, 8 + hlen), path, size);
    const byName = new Map(entries.map((e) => [e.name, e]));
    const open = fd;
    let closed = false;
    return {
      path,
      entries: entries.map((e) => ({ name: e.name, dtype: e.dtype, shape: e.shape, bytes: e.end - e.begin })),
      metadata,
      read(name) {
        const e = byName.get(name);
        if (!e) throw new SafetensorsError(path, `no tensor named '${name}'`);
        if (closed) throw new SafetensorsError(path, `read of '${name}' after close`);
        return safeTensor(e, readAt(open, dataStart + e.begin, e.end - e.begin), path);
      },
      close() {
        if (!closed) closeSync(open);
        closed = true;
      },
    };
  } catch (e) {
    closeSync(fd);
    throw e;
  }
}

/** Reads and validates a whole safetensors file (tensor by tensor, at their offsets). */
export function readSafetensors(path: string): SafeFile {
  const r = openSafetensors(path);
  try {
    return { tensors: new Map(r.entries.map((e) => [e.name, r.read(e.name)])), metadata: r.metadata };
  } finally {
    r.close();
  }
}

/** Exactly `length` bytes at `position` (the header checks guarantee they exist). */
function readAt(fd: number, position: number, length: number): Uint8Array {
  const buf = new Uint8Array(length);
  let got = 0;
  while (got < length) {
    const n = readSync(fd, buf, got, length - got, position + got);
    if (n === 0)
      throw new Error(`unexpected end of file at byte ${position + got} (file changed while reading?)`);
    got += n;
  }
  return buf;
}

/**
 * Names, dtypes, shapes and byte sizes, and the metadata, from the header alone: a path reads only
 * the header (the offsets are checked against the file size); bytes are validated, not decoded.
 */
export function inspectSafetensors(file: string | Uint8Array, source = '<buffer>') {
  if (typeof file === 'string') {
    const r = openSafetensors(file);
    r.close();
    return { tensors: r.entries, metadata: r.metadata };
  }
  const { entries, metadata } = parseHeader(file, source);
  return {
    tensors: entries.map((e) => ({ name: e.name, dtype: e.dtype, shape: e.shape, bytes: e.end - e.begin })),
    metadata,
  };
}

/**
 * Writes and fsyncs a file (no rename); removes it again if the write fails. Chunks may be
 * functions, called one at a time, so only one chunk is in memory at once.
 */
export function writeDurable(
  path: string,
  bytes: Uint8Array | string | (Uint8Array | (() => Uint8Array))[],
): void {
  const fd = openSync(path, 'w');
  try {
    const chunks = Array.isArray(bytes)
      ? bytes
      : [typeof bytes === 'string' ? Buffer.from(bytes, 'utf8') : bytes];
    for (const c of chunks) {
      const buf = typeof c === 'function' ? c() : c;
      let off = 0;
      while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
    }
    fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    try {
      unlinkSync(path);
    } catch {}
    throw e;
  }
  closeSync(fd);
}

/**
 * Writes a safetensors file, streamed tensor by tensor (so a file beyond Node's 2 GB buffer limit
 * can be written) and fsynced; atomically (temp name + rename) unless `atomic` is false (for files
 * inside a directory that is itself swapped in atomically, like a checkpoint).
 */
export function writeSafetensors(
  path: string,
  tensors: TensorsToWrite,
  metadata: Record<string, string> = {},
  opts: { atomic?: boolean } = {},
): void {
  const plan = planWrite(tensors, metadata);
  const chunks = [
    plan.head,
    ...plan.items.map(
      ({ t, dtype }) =>
        () =>
          encodeTensor(t, dtype),
    ),
  ];
  if (opts.atomic ?? true) writeFileAtomic(path, (tmp) => writeDurable(tmp, chunks));
  else writeDurable(path, chunks);
}
