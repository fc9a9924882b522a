import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import {
  f32ToBf16,
  f32ToF16,
  inspectSafetensors,
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
        craft({ w: { dtype: 'F64', shape: [1], data_offsets: [0, 8] } }, 8),
        /tensor 'w': unknown or unsupported dtype "F64"/,
      ],
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
});
