/**
 * Reading and writing the safetensors format (https://github.com/huggingface/safetensors).
 *
 * Layout: an unsigned 64-bit little-endian header length `N`, then `N` bytes of
 * UTF-8 JSON, then the data buffer. The header maps every tensor name to
 * `{ dtype, shape, data_offsets: [begin, end] }` (offsets relative to the start
 * of the data buffer) and may hold a `__metadata__` map of string → string.
 * The tensors must cover the data buffer exactly, without gaps, overlaps or
 * trailing bytes, as the reference implementation requires.
 *
 * Pure data: no TF.js, no DOM. Floating-point tensors (F32, F16, BF16) are
 * decoded exactly to `Float32Array`; I32 to `Int32Array`; I64 to
 * `BigInt64Array` (use {@link toNumbers} for a range-checked `number[]`).
 */

export type SafetensorsDtype = 'F32' | 'F16' | 'BF16' | 'I64' | 'I32';

export type TensorData = Float32Array | Int32Array | BigInt64Array;

export interface SafetensorsTensor {
  dtype: SafetensorsDtype;
  shape: number[];
  data: TensorData;
}

export interface ParsedSafetensors {
  metadata: Record<string, string>;
  tensors: Map<string, SafetensorsTensor>;
}

/** Bytes per element of each supported dtype. */
export const DTYPE_BYTES: Readonly<Record<SafetensorsDtype, number>> = {
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
};

/** The reference implementation refuses headers above 100 MB; so do we. */
const MAX_HEADER_BYTES = 100_000_000;

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

function isDtype(x: unknown): x is SafetensorsDtype {
  return typeof x === 'string' && Object.prototype.hasOwnProperty.call(DTYPE_BYTES, x);
}

function fail(fileName: string, what: string, tensor?: string): never {
  const where = tensor === undefined ? '' : `, tensor "${tensor}"`;
  throw new Error(`safetensors file "${fileName}"${where}: ${what}`);
}

function numElements(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

// ---------------------------------------------------------------------------
// Half-precision conversions
// ---------------------------------------------------------------------------

const f32Scratch = new Float32Array(1);
const u32Scratch = new Uint32Array(f32Scratch.buffer);

/** Exact IEEE-754 binary16 → number (subnormals, ±0, ±Infinity and NaN included). */
export function f16BitsToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant === 0 ? sign * Infinity : NaN;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

/** Exact bfloat16 → number: the 16 bits are the high half of a float32. */
export function bf16BitsToFloat(b: number): number {
  u32Scratch[0] = (b & 0xffff) << 16;
  return f32Scratch[0];
}

/** float32 (the value is first rounded to float32) → binary16 bits, round-to-nearest-even. */
export function floatToF16Bits(value: number): number {
  f32Scratch[0] = value;
  const x = u32Scratch[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  const mant = x & 0x7fffff;
  if (exp === 0xff) {
    // Infinity keeps its sign; NaN stays a (quiet) NaN with the top payload bits.
    return mant === 0 ? sign | 0x7c00 : sign | 0x7e00 | (mant >>> 13);
  }
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00; // overflow → ±Infinity
  if (e <= 0) {
    // Subnormal half (or zero). Values below half the smallest subnormal round to 0.
    if (e < -10) return sign;
    const m = mant | 0x800000;
    const shift = 14 - e;
    let half = m >>> shift;
    const rem = m & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (rem > halfway || (rem === halfway && (half & 1) === 1)) half += 1;
    return sign | half; // a carry into 0x400 is exactly the smallest normal
  }
  let half = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (half & 1) === 1)) half += 1; // may carry to Infinity: correct
  return sign | half;
}

/** float32 → bfloat16 bits, round-to-nearest-even (NaN stays NaN). */
export function floatToBf16Bits(value: number): number {
  f32Scratch[0] = value;
  const x = u32Scratch[0];
  if ((x & 0x7f800000) === 0x7f800000 && (x & 0x7fffff) !== 0) {
    return ((x >>> 16) | 0x40) & 0xffff;
  }
  const lsb = (x >>> 16) & 1;
  return Math.floor((x + 0x7fff + lsb) / 0x10000) & 0xffff;
}

// ---------------------------------------------------------------------------
// Parsing
// ---------------------------------------------------------------------------

function copyBytes(bytes: Uint8Array, begin: number, end: number): ArrayBuffer {
  // A fresh, aligned copy: the source offset need not be a multiple of anything.
  const out = new Uint8Array(end - begin);
  out.set(bytes.subarray(begin, end));
  return out.buffer;
}

function decode(dtype: SafetensorsDtype, bytes: Uint8Array, begin: number, end: number, n: number): TensorData {
  const buf = copyBytes(bytes, begin, end); // fresh and aligned, whatever the source offset
  if (!LITTLE_ENDIAN) return decodeBigEndianHost(dtype, buf, n);
  switch (dtype) {
    case 'F32':
      return new Float32Array(buf);
    case 'I32':
      return new Int32Array(buf);
    case 'I64':
      return new BigInt64Array(buf);
    case 'BF16': {
      const src = new Uint16Array(buf);
      const bits = new Uint32Array(n);
      for (let i = 0; i < n; i++) bits[i] = src[i] << 16; // wraps to the right uint32
      return new Float32Array(bits.buffer);
    }
    case 'F16': {
      const src = new Uint16Array(buf);
      const table = f16Table();
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = table[src[i]];
      return out;
    }
  }
}

/** The portable (slow) path: explicit little-endian reads through a DataView. */
function decodeBigEndianHost(dtype: SafetensorsDtype, buf: ArrayBuffer, n: number): TensorData {
  const dv = new DataView(buf);
  switch (dtype) {
    case 'F32': {
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = dv.getFloat32(4 * i, true);
      return out;
    }
    case 'I32': {
      const out = new Int32Array(n);
      for (let i = 0; i < n; i++) out[i] = dv.getInt32(4 * i, true);
      return out;
    }
    case 'I64': {
      const out = new BigInt64Array(n);
      for (let i = 0; i < n; i++) out[i] = dv.getBigInt64(8 * i, true);
      return out;
    }
    case 'BF16': {
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = bf16BitsToFloat(dv.getUint16(2 * i, true));
      return out;
    }
    case 'F16': {
      const table = f16Table();
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = table[dv.getUint16(2 * i, true)];
      return out;
    }
  }
}

let F16_TABLE: Float32Array | null = null;
function f16Table(): Float32Array {
  if (F16_TABLE === null) {
    F16_TABLE = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) F16_TABLE[h] = f16BitsToFloat(h);
  }
  return F16_TABLE;
}

interface HeaderEntry {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  begin: number;
  end: number;
}

/** Space, tab, line feed, carriage return: what JSON allows around a value, and what writers pad the header with. */
function isJsonWhitespace(byte: number): boolean {
  return byte === 0x20 || byte === 0x09 || byte === 0x0a || byte === 0x0d;
}

function isNonNegInt(x: unknown): x is number {
  return typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
}

/** A tensor's header entry, before its data is decoded. */
export interface SafetensorsEntry {
  dtype: SafetensorsDtype;
  shape: number[];
  byteLength: number;
}

/** A validated safetensors file whose tensors are decoded one at a time, on demand. */
export interface SafetensorsFile {
  metadata: Record<string, string>;
  /** every tensor's dtype, shape and size, in header order */
  entries: Map<string, SafetensorsEntry>;
  /** Decode one tensor (a fresh copy each call). Throws, naming file and tensor, for an unknown name. */
  read(name: string): SafetensorsTensor;
}

/**
 * Validate a `.safetensors` file held in memory without decoding its tensors,
 * so a large checkpoint can be turned into GPU tensors one by one. The same
 * checks as {@link parseSafetensors} apply.
 */
export function openSafetensors(buffer: ArrayBuffer | Uint8Array, fileName: string): SafetensorsFile {
  const bytes = buffer instanceof Uint8Array ? buffer : new Uint8Array(buffer);
  if (bytes.byteLength < 8) {
    fail(fileName, `file is ${bytes.byteLength} bytes long, shorter than the 8-byte header length`);
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLen = dv.getBigUint64(0, true);
  if (headerLen > BigInt(bytes.byteLength - 8)) {
    fail(fileName, `header length ${headerLen} runs past the end of the file (${bytes.byteLength} bytes)`);
  }
  const n = Number(headerLen);
  if (n > MAX_HEADER_BYTES) fail(fileName, `header length ${n} exceeds ${MAX_HEADER_BYTES} bytes`);

  let header: unknown;
  try {
    const text = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + n));
    header = JSON.parse(text);
  } catch (e) {
    fail(fileName, `header is not valid UTF-8 JSON (${(e as Error).message})`);
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header)) {
    fail(fileName, 'header is not a JSON object');
  }

  const dataStart = 8 + n;
  const dataLen = bytes.byteLength - dataStart;
  const metadata: Record<string, string> = {};
  const entries: HeaderEntry[] = [];

  for (const [name, raw] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
        fail(fileName, '__metadata__ is not an object of strings');
      }
      for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
        if (typeof v !== 'string') fail(fileName, `__metadata__ value for "${k}" is not a string`);
        metadata[k] = v;
      }
      continue;
    }
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
      fail(fileName, 'header entry is not an object', name);
    }
    const info = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (!isDtype(info.dtype)) {
      fail(fileName, `unknown or unsupported dtype ${JSON.stringify(info.dtype)} (supported: ${Object.keys(DTYPE_BYTES).join(', ')})`, name);
    }
    if (!Array.isArray(info.shape) || !info.shape.every(isNonNegInt)) {
      fail(fileName, `shape ${JSON.stringify(info.shape)} is not a list of non-negative integers`, name);
    }
    const offs = info.data_offsets;
    if (!Array.isArray(offs) || offs.length !== 2 || !offs.every(isNonNegInt)) {
      fail(fileName, `data_offsets ${JSON.stringify(offs)} is not a pair of non-negative integers`, name);
    }
    const [begin, end] = offs as [number, number];
    if (begin > end || end > dataLen) {
      fail(fileName, `data_offsets [${begin}, ${end}] are out of range (data buffer is ${dataLen} bytes)`, name);
    }
    const shape = info.shape as number[];
    const expected = numElements(shape) * DTYPE_BYTES[info.dtype];
    if (expected !== end - begin) {
      fail(
        fileName,
        `shape [${shape.join(', ')}] × ${info.dtype} needs ${expected} bytes but data_offsets [${begin}, ${end}] hold ${end - begin}`,
        name,
      );
    }
    entries.push({ name, dtype: info.dtype, shape: [...shape], begin, end });
  }

  // Like the reference reader (safetensors' `Metadata::validate`), the tensors must tile the data buffer
  // exactly: from byte 0, each starting where the previous one ends, the last ending at the end of the file.
  // Anything else is a wrong header length (every tensor shifted), a hand-edited header or bytes appended.
  const sorted = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let covered = 0;
  let prev: HeaderEntry | undefined;
  for (const cur of sorted) {
    if (prev && cur.begin < covered) {
      fail(
        fileName,
        `data_offsets [${cur.begin}, ${cur.end}] overlap those of tensor "${prev.name}" [${prev.begin}, ${prev.end}]`,
        cur.name,
      );
    }
    if (cur.begin > covered) {
      fail(
        fileName,
        prev
          ? `data_offsets [${cur.begin}, ${cur.end}] leave a gap after tensor "${prev.name}" [${prev.begin}, ${prev.end}]: bytes ${covered}–${cur.begin - 1} of the data buffer belong to no tensor`
          : `data_offsets [${cur.begin}, ${cur.end}] start at byte ${cur.begin}, but the first tensor must start at byte 0 of the data buffer`,
        cur.name,
      );
    }
    covered = cur.end;
    prev = cur;
  }
  if (covered !== dataLen) {
    const extra = dataLen - covered;
    const intoPadding = bytes.subarray(dataStart, dataStart + extra).every(isJsonWhitespace);
    fail(
      fileName,
      intoPadding
        ? `header length ${n} stops ${extra} bytes short of the header's padding (bytes ${dataStart}–${dataStart + extra - 1} are whitespace): every tensor would be read ${extra} bytes too early; the header length should be ${n + extra}`
        : `the tensors cover ${covered} bytes but the data buffer holds ${dataLen}: the last ${extra} bytes of the file belong to no tensor (bytes appended to the file, or a wrong header length)`,
    );
  }

  const byName = new Map(entries.map((e) => [e.name, e]));
  return {
    metadata,
    entries: new Map(
      entries.map((e) => [e.name, { dtype: e.dtype, shape: [...e.shape], byteLength: e.end - e.begin }]),
    ),
    read(name: string): SafetensorsTensor {
      const e = byName.get(name);
      if (!e) fail(fileName, 'no such tensor in the file', name);
      return {
        dtype: e.dtype,
        shape: [...e.shape],
        data: decode(e.dtype, bytes, dataStart + e.begin, dataStart + e.end, numElements(e.shape)),
      };
    },
  };
}

/**
 * Parse a whole `.safetensors` file held in memory.
 *
 * The buffer may be a view at any byte offset (for example a slice of a larger
 * download); tensor data is copied out, so the result does not alias it.
 * Every malformed input throws an `Error` naming `fileName` and, where one is
 * involved, the tensor.
 */
export function parseSafetensors(buffer: ArrayBuffer | Uint8Array, fileName: string): ParsedSafetensors {
  const file = openSafetensors(buffer, fileName);
  const tensors = new Map<string, SafetensorsTensor>();
  for (const name of file.entries.keys()) tensors.set(name, file.read(name));
  return { metadata: file.metadata, tensors };
}

/**
 * The values of an integer (or float) tensor as plain numbers. I64 values
 * outside ±(2^53 − 1) throw, naming the tensor, instead of silently losing precision.
 */
export function toNumbers(data: TensorData, name = 'tensor'): number[] {
  if (data instanceof BigInt64Array) {
    const out = new Array<number>(data.length);
    const max = BigInt(Number.MAX_SAFE_INTEGER);
    for (let i = 0; i < data.length; i++) {
      const v = data[i];
      if (v > max || v < -max) {
        throw new Error(`tensor "${name}": element ${i} = ${v} is outside the safe integer range of a JS number`);
      }
      out[i] = Number(v);
    }
    return out;
  }
  return Array.from(data);
}

// ---------------------------------------------------------------------------
// Serialization
// ---------------------------------------------------------------------------

function checkData(name: string, t: SafetensorsTensor): void {
  if (!isDtype(t.dtype)) throw new Error(`tensor "${name}": unsupported dtype ${JSON.stringify(t.dtype)}`);
  if (!Array.isArray(t.shape) || !t.shape.every(isNonNegInt)) {
    throw new Error(`tensor "${name}": shape ${JSON.stringify(t.shape)} is not a list of non-negative integers`);
  }
  const want =
    t.dtype === 'I64' ? 'BigInt64Array' : t.dtype === 'I32' ? 'Int32Array' : 'Float32Array';
  const ok =
    (want === 'BigInt64Array' && t.data instanceof BigInt64Array) ||
    (want === 'Int32Array' && t.data instanceof Int32Array) ||
    (want === 'Float32Array' && t.data instanceof Float32Array);
  if (!ok) throw new Error(`tensor "${name}": dtype ${t.dtype} needs its data as a ${want}`);
  const n = numElements(t.shape);
  if (t.data.length !== n) {
    throw new Error(`tensor "${name}": shape [${t.shape.join(', ')}] has ${n} elements but data has ${t.data.length}`);
  }
}

function encodeInto(out: DataView, at: number, t: SafetensorsTensor): void {
  const { data } = t;
  switch (t.dtype) {
    case 'F32':
      for (let i = 0; i < data.length; i++) out.setFloat32(at + 4 * i, (data as Float32Array)[i], true);
      return;
    case 'I32':
      for (let i = 0; i < data.length; i++) out.setInt32(at + 4 * i, (data as Int32Array)[i], true);
      return;
    case 'I64':
      for (let i = 0; i < data.length; i++) out.setBigInt64(at + 8 * i, (data as BigInt64Array)[i], true);
      return;
    case 'F16':
      for (let i = 0; i < data.length; i++) out.setUint16(at + 2 * i, floatToF16Bits((data as Float32Array)[i]), true);
      return;
    case 'BF16':
      for (let i = 0; i < data.length; i++) out.setUint16(at + 2 * i, floatToBf16Bits((data as Float32Array)[i]), true);
      return;
  }
}

/**
 * Write tensors in the safetensors format.
 *
 * Deterministic: tensors are laid out by element size (largest first, so every
 * tensor stays aligned to its element size) and then by name, like the
 * reference implementation; the JSON header is padded with spaces to a
 * multiple of 8 bytes. F16 and BF16 tensors take `Float32Array` data and are
 * rounded to nearest, ties to even.
 */
export function serializeSafetensors(
  tensors: Record<string, SafetensorsTensor>,
  metadata?: Record<string, string>,
): Uint8Array {
  const names = Object.keys(tensors);
  for (const name of names) {
    if (name === '__metadata__') throw new Error('"__metadata__" is reserved and cannot name a tensor');
    checkData(name, tensors[name]);
  }
  names.sort((a, b) => {
    const d = DTYPE_BYTES[tensors[b].dtype] - DTYPE_BYTES[tensors[a].dtype];
    if (d !== 0) return d;
    return a < b ? -1 : a > b ? 1 : 0;
  });

  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length > 0) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string') throw new Error(`__metadata__ value for "${k}" is not a string`);
    }
    header.__metadata__ = metadata;
  }
  let offset = 0;
  const offsets: number[] = [];
  for (const name of names) {
    const t = tensors[name];
    const size = numElements(t.shape) * DTYPE_BYTES[t.dtype];
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + size] };
    offsets.push(offset);
    offset += size;
  }
  let headerBytes = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(headerBytes.length / 8) * 8;
  if (padded !== headerBytes.length) {
    const p = new Uint8Array(padded).fill(0x20);
    p.set(headerBytes);
    headerBytes = p;
  }

  const out = new Uint8Array(8 + headerBytes.length + offset);
  const dv = new DataView(out.buffer);
  dv.setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  const dataStart = 8 + headerBytes.length;
  names.forEach((name, i) => encodeInto(dv, dataStart + offsets[i], tensors[name]));
  return out;
}
