/**
 * A small ONNX graph builder over `onnx-proto`.
 *
 * It writes plain (default-domain) ONNX at opset 17, IR version 8, which both
 * onnxruntime-node and onnxruntime-web load. Weights are stored as float32
 * initializers (raw little-endian bytes) under the names the caller gives;
 * every intermediate value gets a fresh unique name.
 *
 * Only the ops used by the model builders in this folder are wrapped with
 * helpers; anything else goes through `op()`.
 *
 * A graph's constant weights (of `linear`, `conv`, `gatherRows`) are stored as
 * its {@link WeightFormat} says: float32, or quantized as the Hub's q8 and q4
 * files are (scripts/onnx/quantize.ts has the numbers). The q4 format adds the
 * com.microsoft domain (MatMulNBits) to the opset imports.
 */
import onnxProto from 'onnx-proto';
import type { onnx as OnnxTypes } from 'onnx-proto';
import { quantizeBlocks4, quantizeLinear8, type Int8Type } from './quantize';

const { onnx } = onnxProto;

export const OPSET = 17;
export const IR_VERSION = 8;

/** A dimension: a fixed size, or a symbolic name such as 'batch_size'. */
export type Dim = number | string;
export type DType = 'float32' | 'int64' | 'int32' | 'bool' | Int8Type;

const ELEM_TYPE: Record<DType, number> = {
  float32: onnx.TensorProto.DataType.FLOAT,
  int64: onnx.TensorProto.DataType.INT64,
  int32: onnx.TensorProto.DataType.INT32,
  bool: onnx.TensorProto.DataType.BOOL,
  int8: onnx.TensorProto.DataType.INT8,
  uint8: onnx.TensorProto.DataType.UINT8,
};

export const CONTRIB_DOMAIN = 'com.microsoft';

/**
 * How a graph stores its constant weights. `q8` is onnxruntime's `quantize_dynamic` (IntegerOps): MatMul and Conv
 * weights per tensor in `weightType`, activations quantized at run time (DynamicQuantizeLinear → MatMulInteger /
 * ConvInteger → Cast → Mul by both scales), Gather tables in uint8 (dynamic quantization's activation type) followed
 * by DequantizeLinear. `q4` is MatMul4BitsQuantizer (symmetric): MatMul weights become MatMulNBits blocks; Conv and
 * Gather stay float32.
 */
export type WeightFormat = { kind: 'fp32' } | { kind: 'q8'; weightType: Int8Type } | { kind: 'q4'; blockSize: number };

export const FP32: WeightFormat = { kind: 'fp32' };

/**
 * Attribute values. Plain numbers must be integers (INT), number arrays are
 * INTS, strings are STRING; wrap floats as `{ float: x }` / `{ floats: [...] }`.
 */
export type Attr = number | number[] | string | { float: number } | { floats: number[] };

/** The lowest finite float32, what PyTorch's `torch.finfo(float32).min` is. */
export const FLOAT32_LOWEST = -3.4028234663852886e38;

export interface WeightTensor {
  shape: number[];
  data: Float32Array;
}

function bytesOf(view: ArrayBufferView): Uint8Array {
  // Copy: the encoder must not alias a caller's buffer that may change later.
  return new Uint8Array(view.buffer.slice(view.byteOffset, view.byteOffset + view.byteLength));
}

function valueInfo(name: string, dtype: DType, dims: Dim[]): OnnxTypes.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType: ELEM_TYPE[dtype],
        shape: {
          dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })),
        },
      },
    },
  };
}

function attribute(name: string, value: Attr): OnnxTypes.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  if (typeof value === 'number') {
    if (!Number.isInteger(value)) throw new Error(`attribute ${name}: ${value} is not an integer; use { float }`);
    return { name, type: T.INT, i: value };
  }
  if (typeof value === 'string') return { name, type: T.STRING, s: new TextEncoder().encode(value) };
  if (Array.isArray(value)) {
    for (const v of value) {
      if (!Number.isInteger(v)) throw new Error(`attribute ${name}: ${v} is not an integer; use { floats }`);
    }
    return { name, type: T.INTS, ints: value };
  }
  if ('float' in value) return { name, type: T.FLOAT, f: value.float };
  return { name, type: T.FLOATS, floats: value.floats };
}

/** Transposes a row-major [rows, cols] matrix. */
export function transpose2d(data: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) out[c * rows + r] = data[r * cols + c];
  }
  return out;
}

export class GraphBuilder {
  private readonly nodes: OnnxTypes.INodeProto[] = [];
  private readonly initializers: OnnxTypes.ITensorProto[] = [];
  private readonly inputs: OnnxTypes.IValueInfoProto[] = [];
  private readonly outputs: OnnxTypes.IValueInfoProto[] = [];
  private readonly names = new Set<string>();
  private readonly constCache = new Map<string, string>();
  /** DynamicQuantizeLinear outputs by input value: q/k/v and gate/up share one, as onnxruntime's quantizer shares it. */
  private readonly dynamicQuantized = new Map<string, string[]>();
  private usesContribOps = false;
  private counter = 0;

  constructor(
    readonly graphName: string,
    readonly weightFormat: WeightFormat = FP32,
  ) {}

  private claim(name: string): string {
    if (this.names.has(name)) throw new Error(`duplicate value name ${name}`);
    this.names.add(name);
    return name;
  }

  private unusedName(hint: string): string {
    let name: string;
    do {
      name = `/${hint}_${this.counter++}`;
    } while (this.names.has(name));
    return name;
  }

  /** A fresh value name, reserved for the caller. */
  fresh(hint: string): string {
    return this.claim(this.unusedName(hint));
  }

  /** Declares a graph input and returns its name. */
  input(name: string, dtype: DType, dims: Dim[]): string {
    this.inputs.push(valueInfo(this.claim(name), dtype, dims));
    return name;
  }

  /** Declares `value` as graph output `name` (adds an Identity when they differ). */
  output(value: string, name: string, dtype: DType, dims: Dim[]): string {
    if (value !== name) {
      this.nodes.push({ opType: 'Identity', input: [value], output: [this.claim(name)], name: `${name}_identity` });
    }
    this.outputs.push(valueInfo(name, dtype, dims));
    return name;
  }

  /** Reorders the declared graph outputs; `names` must list every output once. */
  orderOutputs(names: string[]): void {
    const byName = new Map(this.outputs.map((o) => [o.name as string, o]));
    if (names.length !== this.outputs.length || names.some((n) => !byName.has(n))) {
      throw new Error(`orderOutputs: expected a permutation of ${[...byName.keys()].join(', ')}`);
    }
    this.outputs.splice(0, this.outputs.length, ...names.map((n) => byName.get(n) as OnnxTypes.IValueInfoProto));
  }

  /** A float32 initializer with the given name and shape. */
  initFloat(name: string, shape: number[], data: Float32Array): string {
    const size = shape.reduce((a, b) => a * b, 1);
    if (data.length !== size) throw new Error(`initializer ${name}: ${data.length} values for shape [${shape}]`);
    this.initializers.push({
      name: this.claim(name),
      dims: shape,
      dataType: onnx.TensorProto.DataType.FLOAT,
      rawData: bytesOf(data),
    });
    return name;
  }

  /** An int8 or uint8 initializer with the given name and shape. */
  initInt8(name: string, type: Int8Type, shape: number[], data: Int8Array | Uint8Array): string {
    const size = shape.reduce((a, b) => a * b, 1);
    if (data.length !== size) throw new Error(`initializer ${name}: ${data.length} values for shape [${shape}]`);
    this.initializers.push({ name: this.claim(name), dims: shape, dataType: ELEM_TYPE[type], rawData: bytesOf(data) });
    return name;
  }

  /** An int64 initializer with the given name and shape. */
  initInt64(name: string, shape: number[], values: number[]): string {
    const size = shape.reduce((a, b) => a * b, 1);
    if (values.length !== size) throw new Error(`initializer ${name}: ${values.length} values for shape [${shape}]`);
    this.initializers.push({
      name: this.claim(name),
      dims: shape,
      dataType: onnx.TensorProto.DataType.INT64,
      rawData: bytesOf(BigInt64Array.from(values.map((v) => BigInt(v)))),
    });
    return name;
  }

  /** A float32 constant (shape [] for a scalar); identical constants are shared. */
  constFloat(values: number[] | number, shape?: number[]): string {
    const vals = typeof values === 'number' ? [values] : values;
    const dims = shape ?? (typeof values === 'number' ? [] : [vals.length]);
    const key = `f:${dims.join(',')}:${vals.join(',')}`;
    const hit = this.constCache.get(key);
    if (hit) return hit;
    const name = this.initFloat(this.unusedName('const_f'), dims, Float32Array.from(vals));
    this.constCache.set(key, name);
    return name;
  }

  /** An int64 constant (shape [] for a scalar); identical constants are shared. */
  constInt64(values: number[] | number, shape?: number[]): string {
    const vals = typeof values === 'number' ? [values] : values;
    const dims = shape ?? (typeof values === 'number' ? [] : [vals.length]);
    const key = `i:${dims.join(',')}:${vals.join(',')}`;
    const hit = this.constCache.get(key);
    if (hit) return hit;
    const name = this.initInt64(this.unusedName('const_i'), dims, vals);
    this.constCache.set(key, name);
    return name;
  }

  /** Adds a node with `nOutputs` fresh outputs and returns their names. */
  opN(opType: string, inputs: string[], attrs: Record<string, Attr> = {}, nOutputs = 1): string[] {
    const output = Array.from({ length: nOutputs }, () => this.fresh(opType));
    this.nodes.push({
      opType,
      input: inputs,
      output,
      name: `${opType}_node_${this.nodes.length}`,
      attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)),
    });
    return output;
  }

  /** A single-output node of onnxruntime's com.microsoft domain. */
  contribOp(opType: string, inputs: string[], attrs: Record<string, Attr> = {}): string {
    const [output] = this.opN(opType, inputs, attrs, 1);
    this.nodes[this.nodes.length - 1].domain = CONTRIB_DOMAIN;
    this.usesContribOps = true;
    return output;
  }

  /** Adds a single-output node and returns its output name. */
  op(opType: string, inputs: string[], attrs: Record<string, Attr> = {}): string {
    return this.opN(opType, inputs, attrs, 1)[0];
  }

  // ---- convenience wrappers -------------------------------------------------

  add(a: string, b: string): string {
    return this.op('Add', [a, b]);
  }
  sub(a: string, b: string): string {
    return this.op('Sub', [a, b]);
  }
  mul(a: string, b: string): string {
    return this.op('Mul', [a, b]);
  }
  div(a: string, b: string): string {
    return this.op('Div', [a, b]);
  }
  matmul(a: string, b: string): string {
    return this.op('MatMul', [a, b]);
  }
  reshape(x: string, shape: number[]): string {
    return this.op('Reshape', [x, this.constInt64(shape)]);
  }
  reshapeTo(x: string, shape: string): string {
    return this.op('Reshape', [x, shape]);
  }
  transpose(x: string, perm: number[]): string {
    return this.op('Transpose', [x], { perm });
  }
  unsqueeze(x: string, axes: number[]): string {
    return this.op('Unsqueeze', [x, this.constInt64(axes)]);
  }
  squeeze(x: string, axes: number[]): string {
    return this.op('Squeeze', [x, this.constInt64(axes)]);
  }
  concat(xs: string[], axis: number): string {
    return this.op('Concat', xs, { axis });
  }
  cast(x: string, to: DType): string {
    return this.op('Cast', [x], { to: ELEM_TYPE[to] });
  }
  /** `Shape(x)[index]` as a 1-D int64 tensor of length 1. */
  dim(x: string, index: number): string {
    return this.op('Shape', [x], { start: index, end: index + 1 });
  }
  /** `Shape(x)[index]` as an int64 scalar. */
  dimScalar(x: string, index: number): string {
    return this.squeeze(this.dim(x, index), [0]);
  }

  /**
   * `x @ W^T + b` for a PyTorch Linear weight `W` of shape [out, in]. The
   * weight is stored transposed ([in, out]) under `name`, so that the graph
   * needs no Transpose node.
   */
  linear(x: string, weightName: string, w: WeightTensor, bias?: { name: string; t: WeightTensor }): string {
    const [out, inn] = w.shape;
    if (w.shape.length !== 2) throw new Error(`${weightName}: expected a 2-D weight, got [${w.shape}]`);
    let y = this.matmulConst(x, weightName, transpose2d(w.data, out, inn), inn, out);
    if (bias) {
      if (bias.t.data.length !== out) throw new Error(`${bias.name}: expected ${out} values`);
      y = this.add(y, this.initFloat(bias.name, [out], bias.t.data));
    }
    return y;
  }

  /**
   * `x @ B` for a constant B, row-major [K, N], stored under `name` in this graph's weight format (the quantized
   * formats name their initializers after it as onnxruntime's quantizers do: `_quantized`/`_scale`/`_zero_point`,
   * `_Q4`/`_scales`).
   */
  matmulConst(x: string, name: string, b: Float32Array, K: number, N: number): string {
    const f = this.weightFormat;
    switch (f.kind) {
      case 'fp32':
        return this.matmul(x, this.initFloat(name, [K, N], b));
      case 'q8': {
        const [wq, ws, wzp] = this.quantized8(name, [K, N], b, f.weightType);
        const [xq, xs, xzp] = this.dynamicQuantize(x);
        const product = this.op('MatMulInteger', [xq, wq, xzp, wzp]);
        return this.mul(this.cast(product, 'float32'), this.mul(xs, ws));
      }
      case 'q4': {
        const bs = f.blockSize;
        if (bs < 16 || (bs & (bs - 1)) !== 0) throw new Error(`MatMulNBits: block size ${bs} is not a power of 2 of at least 16`);
        const q = quantizeBlocks4(b, K, N, bs);
        const packed = this.initInt8(`${name}_Q4`, 'uint8', [N, q.blocks, bs / 2], q.packed);
        const scales = this.initFloat(`${name}_scales`, [N * q.blocks], q.scales);
        return this.contribOp('MatMulNBits', [x, packed, scales], { K, N, bits: 4, block_size: bs });
      }
    }
  }

  /**
   * Conv with a constant weight [D, C, kh, kw] and bias [D]; quantized only by q8 (ConvInteger, the bias added in
   * float after the rescale, reshaped to [1, D, 1, 1] as onnxruntime does).
   */
  conv(x: string, weightName: string, w: WeightTensor, biasName: string, bias: Float32Array, attrs: Record<string, Attr>): string {
    const f = this.weightFormat;
    if (f.kind !== 'q8') {
      const weight = this.initFloat(weightName, w.shape, w.data);
      return this.op('Conv', [x, weight, this.initFloat(biasName, [bias.length], bias)], attrs);
    }
    const [wq, ws, wzp] = this.quantized8(weightName, w.shape, w.data, f.weightType);
    const [xq, xs, xzp] = this.dynamicQuantize(x);
    const product = this.op('ConvInteger', [xq, wq, xzp, wzp], attrs);
    const scaled = this.mul(this.cast(product, 'float32'), this.mul(xs, ws));
    const b = this.initFloat(biasName, [bias.length], bias);
    return this.add(scaled, this.reshape(b, [1, -1, ...w.shape.slice(2).map(() => 1)]));
  }

  /** Rows of a constant table [V, D] at `ids` (Gather on axis 0); q8 stores the table in uint8 and dequantizes the rows. */
  gatherRows(tableName: string, table: WeightTensor, ids: string): string {
    if (this.weightFormat.kind !== 'q8') {
      return this.op('Gather', [this.initFloat(tableName, table.shape, table.data), ids], { axis: 0 });
    }
    const [tq, ts, tzp] = this.quantized8(tableName, table.shape, table.data, 'uint8');
    return this.op('DequantizeLinear', [this.op('Gather', [tq, ids], { axis: 0 }), ts, tzp]);
  }

  /** A tensor quantized per tensor: its data, scale and zero point initializers. */
  private quantized8(name: string, shape: number[], data: Float32Array, type: Int8Type): [string, string, string] {
    const q = quantizeLinear8(data, type);
    const zeroPoint = type === 'int8' ? Int8Array.of(q.zeroPoint) : Uint8Array.of(q.zeroPoint);
    return [
      this.initInt8(`${name}_quantized`, type, shape, q.data),
      this.initFloat(`${name}_scale`, [], Float32Array.of(q.scale)),
      this.initInt8(`${name}_zero_point`, type, [], zeroPoint),
    ];
  }

  /** uint8 `x` with its scale and zero point, computed at run time (once per value). */
  private dynamicQuantize(x: string): string[] {
    let out = this.dynamicQuantized.get(x);
    if (!out) {
      out = this.opN('DynamicQuantizeLinear', [x], {}, 3);
      this.dynamicQuantized.set(x, out);
    }
    return out;
  }

  /** LayerNormalization over the last axis (opset 17). */
  layerNorm(x: string, gamma: string, beta: string, eps: number): string {
    return this.op('LayerNormalization', [x, gamma, beta], { axis: -1, epsilon: { float: eps } });
  }

  /** Llama RMSNorm: `w * x / sqrt(mean(x^2) + eps)` over the last axis. */
  rmsNorm(x: string, weight: string, eps: number): string {
    const variance = this.op('ReduceMean', [this.mul(x, x)], { axes: [-1], keepdims: 1 });
    const denom = this.op('Sqrt', [this.add(variance, this.constFloat(eps))]);
    return this.mul(this.div(x, denom), weight);
  }

  /** The activations Hugging Face configs name in `hidden_act`. */
  activation(x: string, act: string): string {
    switch (act) {
      case 'quick_gelu':
        return this.mul(x, this.op('Sigmoid', [this.mul(x, this.constFloat(1.702))]));
      case 'gelu_pytorch_tanh':
      case 'gelu_new':
      case 'gelu_fast': {
        // 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
        const x3 = this.mul(this.mul(x, x), x);
        const inner = this.mul(this.add(x, this.mul(x3, this.constFloat(0.044715))), this.constFloat(Math.sqrt(2 / Math.PI)));
        const t = this.add(this.op('Tanh', [inner]), this.constFloat(1));
        return this.mul(this.mul(x, t), this.constFloat(0.5));
      }
      case 'gelu': {
        // 0.5 x (1 + erf(x / sqrt 2))
        const e = this.op('Erf', [this.mul(x, this.constFloat(Math.SQRT1_2))]);
        return this.mul(this.mul(x, this.add(e, this.constFloat(1))), this.constFloat(0.5));
      }
      case 'silu':
      case 'swish':
        return this.mul(x, this.op('Sigmoid', [x]));
      default:
        throw new Error(`unsupported activation ${act}`);
    }
  }

  /** Serialises the graph into an ONNX model. */
  build(opts: { producer?: string; docString?: string } = {}): Uint8Array {
    const model: OnnxTypes.IModelProto = {
      irVersion: IR_VERSION,
      opsetImport: [{ domain: '', version: OPSET }, ...(this.usesContribOps ? [{ domain: CONTRIB_DOMAIN, version: 1 }] : [])],
      producerName: opts.producer ?? 'aspo-workbench scripts/onnx',
      producerVersion: '1',
      docString: opts.docString ?? '',
      graph: {
        name: this.graphName,
        node: this.nodes,
        initializer: this.initializers,
        input: this.inputs,
        output: this.outputs,
      },
    };
    return onnx.ModelProto.encode(onnx.ModelProto.create(model)).finish();
  }
}
