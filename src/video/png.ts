/** A small PNG encoder (8-bit grey or RGB, zlib from node) and an atomic file writer. */
import { deflateSync } from 'node:zlib';
import { writeFileAtomic } from '../io/atomic-file.js';

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

export function crc32(bytes: Uint8Array, crc = 0): number {
  let c = ~crc >>> 0;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}

function chunk(type: string, data: Uint8Array): Buffer {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'latin1');
  out.set(data, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}

/** PNG bytes of an H*W*channels image (channels 1 = grey, 3 = RGB), row-major. */
export function encodePng(pixels: Uint8Array, width: number, height: number, channels: 1 | 3 = 3): Buffer {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1)
    throw new Error(`PNG size must be positive integers, got ${width}x${height}`);
  if (pixels.length !== width * height * channels)
    throw new Error(
      `PNG data has ${pixels.length} bytes, expected ${width}x${height}x${channels} = ${width * height * channels}`,
    );
  const stride = width * channels;
  // Each row: filter byte 1 ("Sub": difference to the pixel on the left), which suits flat
  // synthetic images well.
  const raw = new Uint8Array(height * (stride + 1));
  for (let y = 0; y < height; y++) {
    const o = y * (stride + 1);
    const row = y * stride;
    raw[o] = 1;
    for (let i = 0; i < stride; i++)
      raw[o + 1 + i] = (pixels[row + i] - (i >= channels ? pixels[row + i - channels] : 0)) & 0xff;
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = channels === 3 ? 2 : 0; // colour type: truecolour / greyscale
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw, { level: 6 })),
    chunk('IEND', new Uint8Array(0)),
  ]);
}

/** Writes a PNG atomically (io/atomic-file.ts). */
export function writePng(
  path: string,
  pixels: Uint8Array,
  width: number,
  height: number,
  channels: 1 | 3 = 3,
): void {
  writeFileAtomic(path, encodePng(pixels, width, height, channels));
}
