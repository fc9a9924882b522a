/**
 * A minimal ONNX model writer for benches: protobuf wire encoding (varints, length-delimited
 * fields, little-endian floats) of ModelProto / GraphProto / NodeProto / AttributeProto /
 * ValueInfoProto / TensorProto, enough to build an attention graph in-process for ONNX Runtime
 * (no python, no onnx package). Field numbers are those of onnx/onnx.proto.
 */

type Bytes = number[];

function varint(out: Bytes, v: number | bigint): void {
  let x = BigInt.asUintN(64, BigInt(v));
  while (x >= 0x80n) {
    out.push(Number(x & 0x7fn) | 0x80);
    x >>= 7n;
  }
  out.push(Number(x));
}

const key = (out: Bytes, field: number, wire: number) => varint(out, (field << 3) | wire);

function int(out: Bytes, field: number, v: number): void {
  key(out, field, 0);
  varint(out, v);
}

function bytes(out: Bytes, field: number, b: Bytes | Uint8Array): void {
  key(out, field, 2);
  varint(out, b.length);
  for (const x of b) out.push(x);
}

const str = (out: Bytes, field: number, s: string) => bytes(out, field, [...new TextEncoder().encode(s)]);

function f32(out: Bytes, field: number, v: number): void {
  key(out, field, 5);
  const b = new Uint8Array(new Float32Array([v]).buffer);
  for (const x of b) out.push(x);
}

const msg = (fill: (o: Bytes) => void): Bytes => {
  const o: Bytes = [];
  fill(o);
  return o;
};

/** An attribute value: integer, float, or list of integers. */
export type Attr = number | { f: number } | number[];

export interface Node {
  op: string;
  inputs: string[];
  outputs: string[];
  domain?: string;
  attrs?: Record<string, Attr>;
}

export interface Value {
  name: string;
  /** Dimensions; a string is a symbolic dimension. */
  shape: (number | string)[];
}

export interface Initializer {
  name: string;
  dims: number[];
  data: Float32Array;
}

const FLOAT = 1; // TensorProto.DataType.FLOAT
const ATTR_FLOAT = 1;
const ATTR_INT = 2;
const ATTR_INTS = 7;

function attribute(name: string, v: Attr): Bytes {
  return msg((o) => {
    str(o, 1, name);
    if (Array.isArray(v)) {
      for (const x of v) int(o, 8, x);
      int(o, 20, ATTR_INTS);
    } else if (typeof v === 'number') {
      int(o, 3, v);
      int(o, 20, ATTR_INT);
    } else {
      f32(o, 2, v.f);
      int(o, 20, ATTR_FLOAT);
    }
  });
}

function valueInfo(v: Value): Bytes {
  const dims = v.shape.map((d) => msg((o) => (typeof d === 'number' ? int(o, 1, d) : str(o, 2, d))));
  const shape = msg((o) => {
    for (const d of dims) bytes(o, 1, d);
  });
  const tensorType = msg((o) => {
    int(o, 1, FLOAT);
    bytes(o, 2, shape);
  });
  return msg((o) => {
    str(o, 1, v.name);
    bytes(
      o,
      2,
      msg((t) => bytes(t, 1, tensorType)),
    );
  });
}

function tensor(t: Initializer): Bytes {
  return msg((o) => {
    for (const d of t.dims) int(o, 1, d);
    int(o, 2, FLOAT);
    str(o, 8, t.name);
    bytes(o, 9, new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
  });
}

/**
 * The serialized ModelProto (IR version 8) of one graph; `opsets` maps a domain ('' = ai.onnx,
 * 'com.microsoft') to its version.
 */
export function onnxModel(g: {
  nodes: Node[];
  inputs: Value[];
  outputs: Value[];
  initializers?: Initializer[];
  opsets: Record<string, number>;
}): Uint8Array {
  const graph = msg((o) => {
    g.nodes.forEach((n, i) => {
      bytes(
        o,
        1,
        msg((m) => {
          for (const x of n.inputs) str(m, 1, x);
          for (const x of n.outputs) str(m, 2, x);
          str(m, 3, `${n.op}_${i}`);
          str(m, 4, n.op);
          for (const [name, v] of Object.entries(n.attrs ?? {})) bytes(m, 5, attribute(name, v));
          if (n.domain) str(m, 7, n.domain);
        }),
      );
    });
    str(o, 2, 'bench');
    for (const t of g.initializers ?? []) bytes(o, 5, tensor(t));
    for (const v of g.inputs) bytes(o, 11, valueInfo(v));
    for (const v of g.outputs) bytes(o, 12, valueInfo(v));
  });
  const model = msg((o) => {
    int(o, 1, 8);
    str(o, 2, 'moga-bench');
    bytes(o, 7, graph);
    for (const [domain, version] of Object.entries(g.opsets))
      bytes(
        o,
        8,
        msg((m) => {
          str(m, 1, domain);
          int(m, 2, version);
        }),
      );
  });
  return Uint8Array.from(model);
}

/**
 * Dense multi-head attention as two ONNX graphs (inputs [1, N, H*D] each, output [1, N, H*D]):
 * 'mha', the com.microsoft MultiHeadAttention contrib op (ONNX Runtime's fused CPU kernel), and
 * 'matmul', MatMul-Softmax-MatMul on head-major inputs (q [1, H, N, D], k^T [1, H, D, N],
 * v [1, H, N, D]; output [1, H, N, D]) with the scale folded into q by a Mul.
 */
export function attentionModel(kind: 'mha' | 'matmul', H: number, D: number): Uint8Array {
  if (kind === 'mha') {
    const io = (name: string): Value => ({ name, shape: [1, 'N', H * D] });
    return onnxModel({
      nodes: [
        {
          op: 'MultiHeadAttention',
          domain: 'com.microsoft',
          inputs: ['q', 'k', 'v'],
          outputs: ['out'],
          attrs: { num_heads: H, scale: { f: 1 / Math.sqrt(D) } },
        },
      ],
      inputs: [io('q'), io('k'), io('v')],
      outputs: [io('out')],
      opsets: { '': 17, 'com.microsoft': 1 },
    });
  }
  return onnxModel({
    nodes: [
      { op: 'Mul', inputs: ['q', 'scale'], outputs: ['qs'] },
      { op: 'MatMul', inputs: ['qs', 'kt'], outputs: ['s'] },
      { op: 'Softmax', inputs: ['s'], outputs: ['p'], attrs: { axis: -1 } },
      { op: 'MatMul', inputs: ['p', 'v'], outputs: ['out'] },
    ],
    inputs: [
      { name: 'q', shape: [1, H, 'N', D] },
      { name: 'kt', shape: [1, H, D, 'N'] },
      { name: 'v', shape: [1, H, 'N', D] },
    ],
    outputs: [{ name: 'out', shape: [1, H, 'N', D] }],
    initializers: [{ name: 'scale', dims: [], data: new Float32Array([1 / Math.sqrt(D)]) }],
    opsets: { '': 17 },
  });
}
