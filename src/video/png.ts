/** A small PNG encoder (8-bit grey or RGB, zlib from node), an atomic file writer, a reader of 8-bit PNGs and a cover-and-crop resize. */
import { readFileSync } from 'node:fs';
import { deflateSync, inflateSync } from 'node:zlib';
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

/** A decoded PNG as RGB bytes (H*W*3, row-major); grey is spread to RGB, alpha is dropped. */
export interface RgbImage {
  readonly width: number;
  readonly height: number;
  readonly rgb: Uint8Array;
}

/**
 * Decodes an 8-bit, non-interlaced PNG of colour type grey, RGB, grey+alpha or RGBA (what image
 * tools write by default) into RGB. Anything else (palette, 16-bit, interlaced, not a PNG) is
 * refused with an error that says what the file is and what is read; `source` names it there.
 */
export function decodePng(bytes: Uint8Array, source = 'image'): RgbImage {
  const fail = (m: string) => new Error(`${source}: ${m}`);
  const sig = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
  if (bytes.length < 8 || sig.some((v, i) => bytes[i] !== v))
    throw fail('not a PNG file (the signature is missing); give an 8-bit RGB or RGBA PNG');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = 8;
  let ihdr: Uint8Array | undefined;
  const idat: Uint8Array[] = [];
  while (at + 12 <= bytes.length) {
    const len = view.getUint32(at);
    const type = String.fromCharCode(...bytes.subarray(at + 4, at + 8));
    if (at + 12 + len > bytes.length)
      throw fail(`chunk ${type} runs past the end of the file (truncated PNG)`);
    const data = bytes.subarray(at + 8, at + 8 + len);
    if (type === 'IHDR') ihdr = data;
    else if (type === 'IDAT') idat.push(data);
    else if (type === 'IEND') break;
    at += 12 + len;
  }
  if (!ihdr || ihdr.length < 13) throw fail('no IHDR chunk (corrupt PNG)');
  const h = new DataView(ihdr.buffer, ihdr.byteOffset, 13);
  const width = h.getUint32(0);
  const height = h.getUint32(4);
  const [depth, colour, , , interlace] = [ihdr[8], ihdr[9], ihdr[10], ihdr[11], ihdr[12]];
  const kinds: Record<number, [string, number]> = {
    0: ['grey', 1],
    2: ['RGB', 3],
    4: ['grey+alpha', 2],
    6: ['RGBA', 4],
  };
  const kind = kinds[colour];
  if (!kind)
    throw fail(
      `PNG colour type ${colour} (${colour === 3 ? 'palette' : 'unknown'}) is not read; save it as 8-bit RGB or RGBA`,
    );
  if (depth !== 8) throw fail(`PNG bit depth ${depth} is not read; save it as 8-bit ${kind[0]}`);
  if (interlace !== 0) throw fail('interlaced PNGs are not read; save it without interlacing');
  if (width < 1 || height < 1 || width * height > 2 ** 28)
    throw fail(`PNG size ${width}x${height} is out of range`);
  const ch = kind[1];
  const stride = width * ch;
  let raw: Uint8Array;
  try {
    raw = inflateSync(Buffer.concat(idat));
  } catch (e) {
    throw fail(`the PNG's image data does not inflate: ${(e as Error).message}`);
  }
  if (raw.length < height * (stride + 1))
    throw fail('the PNG image data is shorter than its size says (truncated)');
  const px = new Uint8Array(height * stride);
  for (let y = 0; y < height; y++) {
    const f = raw[y * (stride + 1)];
    const src = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    const row = y * stride;
    for (let i = 0; i < stride; i++) {
      const a = i >= ch ? px[row + i - ch] : 0;
      const b = y > 0 ? px[row - stride + i] : 0;
      const c = y > 0 && i >= ch ? px[row - stride + i - ch] : 0;
      let v: number;
      if (f === 0) v = src[i];
      else if (f === 1) v = src[i] + a;
      else if (f === 2) v = src[i] + b;
      else if (f === 3) v = src[i] + ((a + b) >> 1);
      else if (f === 4) {
        const p = a + b - c;
        const [pa, pb, pc] = [Math.abs(p - a), Math.abs(p - b), Math.abs(p - c)];
        v = src[i] + (pa <= pb && pa <= pc ? a : pb <= pc ? b : c);
      } else throw fail(`unknown PNG row filter ${f} (corrupt PNG)`);
      px[row + i] = v & 0xff;
    }
  }
  const rgb = new Uint8Array(width * height * 3);
  for (let i = 0; i < width * height; i++)
    for (let c = 0; c < 3; c++) rgb[3 * i + c] = ch >= 3 ? px[i * ch + c] : px[i * ch];
  return { width, height, rgb };
}

/** Reads a PNG file (see `decodePng`). */
export function readPng(path: string): RgbImage {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new Error(`${path}: cannot read: ${(e as Error).message}`);
  }
  return decodePng(bytes, path);
}

/**
 * The image scaled to cover width x height and centre-cropped to it (the aspect ratio kept),
 * sampled bilinearly at the output pixel centres; the same size comes back unchanged.
 */
export function coverImage(img: RgbImage, width: number, height: number): Uint8Array {
  if (img.width === width && img.height === height) return img.rgb;
  const s = Math.max(width / img.width, height / img.height); // output pixels per input pixel
  const ox = (img.width - width / s) / 2;
  const oy = (img.height - height / s) / 2;
  const out = new Uint8Array(width * height * 3);
  const at = (x: number, y: number, c: number) => img.rgb[(y * img.width + x) * 3 + c];
  for (let y = 0; y < height; y++) {
    const sy = Math.min(img.height - 1, Math.max(0, oy + (y + 0.5) / s - 0.5));
    const y0 = Math.floor(sy);
    const y1 = Math.min(img.height - 1, y0 + 1);
    const fy = sy - y0;
    for (let x = 0; x < width; x++) {
      const sx = Math.min(img.width - 1, Math.max(0, ox + (x + 0.5) / s - 0.5));
      const x0 = Math.floor(sx);
      const x1 = Math.min(img.width - 1, x0 + 1);
      const fx = sx - x0;
      for (let c = 0; c < 3; c++) {
        const top = at(x0, y0, c) * (1 - fx) + at(x1, y0, c) * fx;
        const bot = at(x0, y1, c) * (1 - fx) + at(x1, y1, c) * fx;
        out[(y * width + x) * 3 + c] = Math.round(top * (1 - fy) + bot * fy);
      }
    }
  }
  return out;
}
