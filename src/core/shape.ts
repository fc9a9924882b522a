/** Shape arithmetic: sizes, strides, broadcasting, axis normalisation. Shapes are row-major. */
export type Shape = readonly number[];

export function sizeOf(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function stridesOf(shape: Shape): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i];
  }
  return s;
}

export function sameShape(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

export function fmt(shape: Shape): string {
  return `[${shape.join(', ')}]`;
}

/** numpy broadcasting of any number of shapes; throws naming both shapes when they clash. */
export function broadcastShapes(...shapes: Shape[]): number[] {
  const rank = Math.max(...shapes.map((s) => s.length));
  const out = new Array<number>(rank).fill(1);
  for (const s of shapes) {
    for (let i = 0; i < s.length; i++) {
      const o = rank - s.length + i;
      const d = s[i];
      if (d === out[o] || d === 1) continue;
      if (out[o] === 1) out[o] = d;
      else throw new Error(`shapes ${shapes.map(fmt).join(' and ')} do not broadcast`);
    }
  }
  return out;
}

/** Normalises axes (negative counts from the end) and checks them; sorted, unique. */
export function normAxes(axes: number | readonly number[] | undefined, rank: number): number[] {
  if (axes === undefined) return Array.from({ length: rank }, (_, i) => i);
  const list = typeof axes === 'number' ? [axes] : axes;
  const out = list.map((a) => {
    const b = a < 0 ? a + rank : a;
    if (b < 0 || b >= rank) throw new Error(`axis ${a} out of range for rank ${rank}`);
    return b;
  });
  return [...new Set(out)].sort((x, y) => x - y);
}

export function reducedShape(shape: Shape, axes: readonly number[], keepDims: boolean): number[] {
  const out: number[] = [];
  shape.forEach((d, i) => {
    if (!axes.includes(i)) out.push(d);
    else if (keepDims) out.push(1);
  });
  return out;
}

/** Resolves one -1 in a reshape target; checks the element count. */
export function resolveReshape(from: Shape, to: readonly number[]): number[] {
  const n = sizeOf(from);
  const known = to.filter((d) => d !== -1);
  const free = to.length - known.length;
  if (free > 1) throw new Error(`reshape ${fmt(to)}: at most one -1`);
  const k = sizeOf(known);
  const out = to.map((d) => (d === -1 ? (k === 0 ? 0 : n / k) : d));
  if (sizeOf(out) !== n || out.some((d) => !Number.isInteger(d) || d < 0))
    throw new Error(`cannot reshape ${fmt(from)} (${n} elements) to ${fmt(to)}`);
  return out;
}
