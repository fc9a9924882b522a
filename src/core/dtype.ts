/** Element types. GPU backends may add bfloat16/float16 storage; the CPU computes in float32. */
export type DType = 'float32' | 'int32';

export type TypedArray = Float32Array | Int32Array;

export const BYTES: Record<DType, number> = { float32: 4, int32: 4 };

export function makeArray(dtype: DType, size: number): TypedArray {
  return dtype === 'int32' ? new Int32Array(size) : new Float32Array(size);
}

export function dtypeOf(a: TypedArray): DType {
  return a instanceof Int32Array ? 'int32' : 'float32';
}
