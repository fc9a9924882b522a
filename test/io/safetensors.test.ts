import assert from 'node:assert/strict';
import {
  closeSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import {
  f32ToBf16,
  f32ToF16,
  inspectSafetensors,
  openSafetensors,
  parseSafetensors,
  readSafetensors,
  serializeSafetensors,
  writeSafetensors,
} from '../../src/io/safetensors.js';

const dir = mkdtempSync(join(tmpdir(), 'moga-st-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** A file with a hand-written header and `data` bytes, for corruption tests. */
function craft(header: unknown, data: number, headerLen?: number): Uint8Array {
  const h = new TextEncoder().encode(typeof header === 'string' ? header : JSON.stringify(header));
  const out = new Uint8Array(8 + h.length + data);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerLen ?? h.length), true);
  out.set(h, 8);
  return out;
}

describe('safetensors', () => {
  it('a write that fails midway leaves the previous file intact and no temp beside it', () => {
    const sub = mkdtempSync(join(tmpdir(), 'moga-st-atomic-'));
    const path = join(sub, 'w.safetensors');
    writeSafetensors(path, { a: { shape: [2], data: Float32Array.from([1, 2]) } });
    const before = readFileSync(path);
    // encoding the second tensor throws after the header and the first tensor are written
    class Boom extends Float32Array {
      override get buffer(): ArrayBuffer {
        throw new Error('boom while encoding');
      }
    }
    assert.throws(
      () =>
        writeSafetensors(path, {
          a: { shape: [2], data: Float32Array.from([3, 4]) },
          b: { shape: [2], data: new Boom(2) },
        }),
      /boom while encoding/,
    );
    assert.deepEqual(readFileSync(path), before, 'the previous file is untouched');
    assert.deepEqual(readdirSync(sub), ['w.safetensors'], 'no temp file left');
    rmSync(sub, { recursive: true, force: true });
  });

  it('round-trips F32, I32, F16 and BF16 with metadata through a file', () => {
    const a = Float32Array.from([1, -2.5, 3.25, 0, 1e-3, 65504]);
    const b = Int32Array.from([7, -8, 2 ** 31 - 1]);
    const path = join(dir, 'rt.safetensors');
    writeSafetensors(
      path,
      {
        a: { shape: [2, 3], data: a },
        b: { shape: [3], data: b },
        h: { shape: [6], data: a, dtype: 'F16' },
        z: { shape: [3, 2], data: a, dtype: 'BF16' },
      },
      { format: 'pt', step: '12' },
    );
    const f = readSafetensors(path);
    assert.deepEqual(f.metadata, { format: 'pt', step: '12' });
    assert.deepEqual([...f.tensors.keys()], ['a', 'b', 'h', 'z']);
    assert.deepEqual(f.tensors.get('a')!.shape, [2, 3]);
    assert.deepEqual(f.tensors.get('a')!.data, a);
    assert.deepEqual(f.tensors.get('b')!.data, b);
    assert.equal(f.tensors.get('h')!.dtype, 'F16');
    // these values are exact in half precision
    assert.deepEqual([...f.tensors.get('h')!.data].slice(0, 4), [1, -2.5, 3.25, 0]);
    assert.equal(f.tensors.get('h')!.data[5], 65504);
    assert.ok(Math.abs(f.tensors.get('h')!.data[4] - 1e-3) < 1e-6);
    assert.deepEqual([...f.tensors.get('z')!.data].slice(0, 4), [1, -2.5, 3.25, 0]);
    assert.deepEqual(readdirSync(dir), ['rt.safetensors'], 'no temp file left behind');
  });

  it('writes the reference layout: u64 LE header length, 8-byte aligned data, offsets in order', () => {
    const bytes = serializeSafetensors({ x: { shape: [2], data: Float32Array.from([1, 2]) } });
    const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    assert.equal((8 + n) % 8, 0);
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
    assert.deepEqual(header, { x: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } });
    assert.deepEqual([...bytes.subarray(8 + n)], [0, 0, 0x80, 0x3f, 0, 0, 0, 0x40]);
  });

  it('streams to disk exactly the bytes it serialises in memory', () => {
    const t = {
      a: { shape: [3], data: Float32Array.from([1, 2, 3]), dtype: 'BF16' as const },
      b: { shape: [1], data: Int32Array.from([9]) },
      c: { shape: [2], data: Float32Array.from([0.1, 0.2]), dtype: 'F16' as const },
    };
    const path = join(dir, 'stream.safetensors');
    writeSafetensors(path, t, { k: 'v' });
    assert.deepEqual(new Uint8Array(readFileSync(path)), serializeSafetensors(t, { k: 'v' }));
    writeSafetensors(path, t, {}, { atomic: false });
    assert.deepEqual(new Uint8Array(readFileSync(path)), serializeSafetensors(t));
    rmSync(path);
  });

  it('rounds to nearest even when narrowing to F16 and BF16', () => {
    // F16: 1 + 2^-11 is a tie between 1 and 1 + 2^-10 -> even (1); 1 + 3*2^-11 -> 1 + 2^-9
    assert.equal(f32ToF16(1), 0x3c00);
    assert.equal(f32ToF16(1 + 2 ** -11), 0x3c00);
    assert.equal(f32ToF16(1 + 3 * 2 ** -11), 0x3c02);
    assert.equal(f32ToF16(1 + 2 ** -11 + 2 ** -20), 0x3c01, 'above the tie rounds up');
    assert.equal(f32ToF16(65504), 0x7bff);
    assert.equal(f32ToF16(65520), 0x7c00, 'rounds to infinity past the largest half');
    assert.equal(f32ToF16(-Infinity), 0xfc00);
    assert.equal(f32ToF16(Number.NaN) & 0x7c00, 0x7c00);
    assert.notEqual(f32ToF16(Number.NaN) & 0x3ff, 0);
    assert.equal(f32ToF16(2 ** -24), 0x0001, 'smallest subnormal');
    assert.equal(f32ToF16(2 ** -25), 0x0000, 'tie to even (zero)');
    assert.equal(f32ToF16(3 * 2 ** -25), 0x0002, 'tie to even (two)');
    assert.equal(f32ToF16(2 ** -14 - 2 ** -25), 0x0400, 'carry from subnormal into the normal range');
    assert.equal(f32ToF16(-0), 0x8000);
    // BF16 keeps the top 16 bits: 1 + 2^-8 is a tie -> 1; 1 + 3*2^-8 -> 1 + 2^-6
    assert.equal(f32ToBf16(1), 0x3f80);
    assert.equal(f32ToBf16(1 + 2 ** -8), 0x3f80);
    assert.equal(f32ToBf16(1 + 3 * 2 ** -8), 0x3f82);
    assert.equal(f32ToBf16(1 + 2 ** -8 + 2 ** -16), 0x3f81);
    assert.equal(f32ToBf16(Number.NaN) & 0x7f80, 0x7f80);
    assert.notEqual(f32ToBf16(Number.NaN) & 0x7f, 0);
  });

  it('refuses bad input when writing', () => {
    assert.throws(
      () => serializeSafetensors({ x: { shape: [3], data: new Float32Array(2) } }),
      /tensor 'x': shape \[3\] has 3 elements, data has 2/,
    );
    assert.throws(
      () => serializeSafetensors({ x: { shape: [2], data: new Float32Array(2), dtype: 'I32' } }),
      /dtype I32 does not match/,
    );
    assert.throws(
      () => serializeSafetensors({ __metadata__: { shape: [0], data: new Float32Array(0) } }),
      /reserved/,
    );
    assert.throws(() => writeSafetensors(join(dir, 'no/such/dir/x.safetensors'), {}), /ENOENT/);
  });

  describe('corrupt files give a clear error', () => {
    const good = serializeSafetensors({
      w: { shape: [2, 2], data: Float32Array.from([1, 2, 3, 4]) },
      b: { shape: [2], data: Float32Array.from([5, 6]) },
    });
    const cases: [string, Uint8Array, RegExp][] = [
      [
        'truncated data',
        good.subarray(0, good.length - 3),
        /tensor 'b': data_offsets \[16, 24\] out of range: the data buffer has 21 bytes \(file truncated\?\)/,
      ],
      ['too short for the header length', good.subarray(0, 5), /too short for the 8-byte header length/],
      ['truncated header', good.subarray(0, 20), /header length \d+ goes beyond the end of the file/],
      [
        'header length beyond the file',
        craft({}, 0, 1_000_000),
        /header length 1000000 goes beyond the end of the file/,
      ],
      [
        'header length near 2^64',
        (() => {
          const c = craft({}, 0);
          new DataView(c.buffer).setBigUint64(0, 2n ** 64n - 1n, true);
          return c;
        })(),
        /goes beyond the end of the file/,
      ],
      ['non-JSON header', craft('{"w": {dtype', 0), /header is not valid UTF-8 JSON/],
      ['header not an object', craft('[1,2]', 0), /header is not a JSON object/],
      [
        'offsets out of range',
        craft({ w: { dtype: 'F32', shape: [2], data_offsets: [0, 800] } }, 8),
        /tensor 'w': data_offsets \[0, 800\] out of range/,
      ],
      [
        'negative offsets',
        craft({ w: { dtype: 'F32', shape: [2], data_offsets: [-8, 0] } }, 8),
        /tensor 'w': data_offsets \[-8,0\] is not a pair of non-negative integers/,
      ],
      [
        'reversed offsets',
        craft({ w: { dtype: 'F32', shape: [0], data_offsets: [8, 0] } }, 8),
        /tensor 'w': data_offsets \[8, 0\] end before they begin/,
      ],
      [
        'overlapping tensors',
        craft(
          {
            a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
            b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] },
          },
          12,
        ),
        /tensor 'b': data_offsets \[4, 12\] overlap the previous tensor/,
      ],
      [
        'gap between tensors',
        craft(
          {
            a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] },
            b: { dtype: 'F32', shape: [1], data_offsets: [8, 12] },
          },
          12,
        ),
        /tensor 'b': gap in the data buffer/,
      ],
      [
        'trailing bytes',
        craft({ a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }, 12),
        /cover 4 bytes but the data buffer has 12/,
      ],
      [
        'unknown dtype',
        craft({ w: { dtype: 'F4', shape: [2], data_offsets: [0, 1] } }, 1),
        /tensor 'w': unknown or unsupported dtype "F4" \(supported: BOOL, U8, .*F64\)/,
      ],
      ...['toString', '__proto__', 'constructor', 'hasOwnProperty'].map((d): [string, Uint8Array, RegExp] => [
        `a dtype named ${d} (an Object.prototype key)`,
        craft({ w: { dtype: d, shape: [1], data_offsets: [0, 4] } }, 4),
        new RegExp(`tensor 'w': unknown or unsupported dtype "${d}"`),
      ]),
      [
        'shape vs byte size',
        craft({ w: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, 8),
        /tensor 'w': shape \[3\] of F32 needs 12 bytes but data_offsets span 8/,
      ],
      [
        'bad shape',
        craft({ w: { dtype: 'F32', shape: [2.5], data_offsets: [0, 8] } }, 8),
        /tensor 'w': shape \[2.5\] is not a list of non-negative integers/,
      ],
      [
        'non-string metadata',
        craft({ __metadata__: { step: 3 } }, 0),
        /__metadata__ value 'step' is not a string/,
      ],
    ];
    for (const [name, bytes, re] of cases)
      it(name, () => {
        assert.throws(
          () => parseSafetensors(bytes, 'x.safetensors'),
          (e: Error) => {
            assert.match(e.message, /^safetensors x\.safetensors: /);
            assert.match(e.message, re);
            return true;
          },
        );
        // the same error through the file reader, which reads the header and tensors at offsets
        const path = join(dir, 'corrupt.safetensors');
        writeFileSync(path, bytes);
        assert.throws(
          () => readSafetensors(path),
          (e: Error) => e.message.startsWith(`safetensors ${path}: `) && re.test(e.message),
        );
        rmSync(path);
      });

    it('names the file when reading from disk', () => {
      const path = join(dir, 'trunc.safetensors');
      writeFileSync(path, good.subarray(0, good.length - 1));
      assert.throws(
        () => readSafetensors(path),
        new RegExp(`safetensors ${path.replace(/[.]/g, '\\.')}: tensor 'b'`),
      );
      rmSync(path);
      assert.throws(() => readSafetensors(join(dir, 'absent.safetensors')), /cannot read/);
    });

    it('accepts the valid file and inspects without decoding', () => {
      const f = parseSafetensors(good);
      assert.deepEqual([...f.tensors.get('w')!.data], [1, 2, 3, 4]);
      assert.deepEqual(
        inspectSafetensors(good).tensors.map((t) => t.name),
        ['w', 'b'],
      );
    });
  });

  describe('every dtype of the format', () => {
    /** One tensor per dtype, bytes written by hand (little-endian), with the values they mean. */
    const cases: [string, number[], (dv: DataView, i: number, v: number) => void, number][] = [
      ['BOOL', [1, 0, 1], (dv, i, v) => dv.setUint8(i, v), 1],
      ['U8', [0, 200, 255], (dv, i, v) => dv.setUint8(i, v), 1],
      ['I8', [-128, 0, 127], (dv, i, v) => dv.setInt8(i, v), 1],
      ['U16', [0, 40000, 65535], (dv, i, v) => dv.setUint16(i * 2, v, true), 2],
      ['I16', [-32768, 5, 32767], (dv, i, v) => dv.setInt16(i * 2, v, true), 2],
      ['U32', [0, 7, 2147483647], (dv, i, v) => dv.setUint32(i * 4, v, true), 4],
      ['I32', [-2147483648, 1, 2147483647], (dv, i, v) => dv.setInt32(i * 4, v, true), 4],
      ['U64', [0, 9, 2147483647], (dv, i, v) => dv.setBigUint64(i * 8, BigInt(v), true), 8],
      ['I64', [-5, 0, 2047], (dv, i, v) => dv.setBigInt64(i * 8, BigInt(v), true), 8],
      ['F64', [0.5, -1.25, 1e30], (dv, i, v) => dv.setFloat64(i * 8, v, true), 8],
      ['F32', [0.5, -1.25, 3], (dv, i, v) => dv.setFloat32(i * 4, v, true), 4],
      ['F16', [0.5, -1.25, 3], (dv, i, v) => dv.setUint16(i * 2, f32ToF16(v), true), 2],
      ['BF16', [0.5, -1.25, 3], (dv, i, v) => dv.setUint16(i * 2, f32ToBf16(v), true), 2],
      // F8_E5M2 is the top byte of an F16; F8_E4M3 (fn): 0x38 = 1, 0xC2 = -2.5, 0x7E = 448 (its max)
      ['F8_E5M2', [0.5, -1.25, 3], (dv, i, v) => dv.setUint8(i, f32ToF16(v) >> 8), 1],
      ['F8_E4M3', [1, -2.5, 448], (dv, i) => dv.setUint8(i, [0x38, 0xc2, 0x7e][i]), 1],
    ];
    const header: Record<string, unknown> = {};
    let at = 0;
    for (const [dtype, , , size] of cases) {
      header[dtype.toLowerCase()] = { dtype, shape: [3], data_offsets: [at, at + 3 * size] };
      at += 3 * size;
    }
    const file = craft(header, at);
    const dataStart = file.length - at;
    at = 0;
    for (const [, values, put, size] of cases) {
      const dv = new DataView(file.buffer, dataStart + at, 3 * size);
      values.forEach((v, i) => put(dv, i, v));
      at += 3 * size;
    }

    for (const [dtype, values] of cases)
      it(`reads ${dtype}`, () => {
        const t = parseSafetensors(file).tensors.get(dtype.toLowerCase())!;
        assert.equal(t.dtype, dtype);
        const float = dtype.startsWith('F') || dtype === 'BF16';
        assert.equal(t.data instanceof (float ? Float32Array : Int32Array), true);
        assert.deepEqual(
          [...t.data],
          values.map((v) => (float ? Math.fround(v) : v)),
        );
      });

    it('an integer int32 cannot hold is refused by tensor and index; .bytes keeps it exactly', () => {
      const big = craft({ ids: { dtype: 'I64', shape: [2], data_offsets: [0, 16] } }, 16);
      const dv = new DataView(big.buffer, big.length - 16);
      dv.setBigInt64(0, 3n, true);
      dv.setBigInt64(8, 2n ** 40n, true);
      const t = parseSafetensors(big, 'ids.safetensors').tensors.get('ids')!;
      assert.throws(
        () => t.data,
        /^SafetensorsError: safetensors ids\.safetensors: tensor 'ids': I64 value 1099511627776 at index 1 does not fit in int32/,
      );
      assert.equal(new DataView(t.bytes.buffer, t.bytes.byteOffset).getBigInt64(8, true), 2n ** 40n);
    });

    it('reads and writes a tensor named like an Object.prototype key', () => {
      const path = join(dir, 'proto.safetensors');
      writeSafetensors(path, [
        ['__proto__', { shape: [1], data: Float32Array.of(7) }],
        ['constructor', { shape: [1], data: Float32Array.of(8) }],
      ]);
      const f = readSafetensors(path);
      assert.deepEqual([...f.tensors.keys()], ['__proto__', 'constructor']);
      assert.deepEqual([...f.tensors.get('__proto__')!.data], [7]);
    });

    it('refuses to write a dtype it only reads', () => {
      assert.throws(
        () => serializeSafetensors({ x: { shape: [1], data: Int32Array.of(1), dtype: 'I64' } }),
        /tensor 'x': cannot write dtype 'I64' \(writable: F32, F16, BF16, I32\)/,
      );
    });
  });

  describe('reading only what is asked', () => {
    it('openSafetensors reads one tensor at a time, names a missing one, and refuses reads after close', () => {
      const path = join(dir, 'lazy.safetensors');
      writeSafetensors(path, {
        a: { shape: [2], data: Float32Array.of(1, 2) },
        b: { shape: [1], data: Int32Array.of(9) },
      });
      const r = openSafetensors(path);
      assert.deepEqual(
        r.entries.map((e) => [e.name, e.dtype, e.shape, e.bytes]),
        [
          ['a', 'F32', [2], 8],
          ['b', 'I32', [1], 4],
        ],
      );
      assert.deepEqual([...r.read('b').data], [9]);
      assert.throws(() => r.read('c'), /no tensor named 'c'/);
      r.close();
      assert.throws(() => r.read('a'), /read of 'a' after close/);
    });

    it('inspectSafetensors(path) reads the header alone: a 3 GB tensor is listed, not loaded', () => {
      const path = join(dir, 'huge.safetensors');
      const n = 3 * 2 ** 30;
      const h = new TextEncoder().encode(
        JSON.stringify({
          __metadata__: { format: 'pt' },
          position_ids: { dtype: 'I64', shape: [1, 4], data_offsets: [0, 32] },
          w: { dtype: 'F32', shape: [n / 4], data_offsets: [32, 32 + n] },
        }),
      );
      const head = new Uint8Array(8 + h.length);
      new DataView(head.buffer).setBigUint64(0, BigInt(h.length), true);
      head.set(h, 8);
      const fd = openSync(path, 'w');
      writeSync(fd, head);
      writeSync(fd, new Uint8Array(1), 0, 1, head.length + 32 + n - 1); // sparse: the size, no data
      closeSync(fd);
      const info = inspectSafetensors(path);
      assert.deepEqual(info.metadata, { format: 'pt' });
      assert.deepEqual(
        info.tensors.map((t) => [t.name, t.dtype, t.shape, t.bytes]),
        [
          ['position_ids', 'I64', [1, 4], 32],
          ['w', 'F32', [n / 4], n],
        ],
      );
      rmSync(path);
    });
  });
});
