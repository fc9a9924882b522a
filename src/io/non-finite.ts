import type { SafeFile } from './safetensors.js';

/**
 * The first NaN or infinity in a float tensor of `file`, described ("tensor X holds NaN at element
 * i"), or null: weights like that give an all-black or all-grey video without any other error.
 */
export function firstNonFinite(file: SafeFile): string | null {
  for (const [name, t] of file.tensors) {
    if (!(t.data instanceof Float32Array)) continue;
    const d = t.data;
    for (let i = 0; i < d.length; i++)
      if (!Number.isFinite(d[i])) return `tensor ${name} holds ${d[i]} at element ${i} (non-finite weights)`;
  }
  return null;
}
