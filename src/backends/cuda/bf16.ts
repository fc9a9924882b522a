/** bfloat16 <-> float32 on the host (round to nearest even), for uploads of bf16 tensors. */
const f = new Float32Array(1);
const u = new Uint32Array(f.buffer);

export function toBf16Bits(x: Float32Array): Uint16Array {
  const out = new Uint16Array(x.length);
  for (let i = 0; i < x.length; i++) {
    f[0] = x[i];
    const w = u[0];
    out[i] = Number.isNaN(x[i]) ? 0x7fc0 : (w + 0x7fff + ((w >>> 16) & 1)) >>> 16;
  }
  return out;
}

export function fromBf16Bits(b: Uint16Array): Float32Array {
  const out = new Float32Array(b.length);
  const w = new Uint32Array(out.buffer);
  for (let i = 0; i < b.length; i++) w[i] = b[i] << 16;
  return out;
}
