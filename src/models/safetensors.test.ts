import { describe, expect, it } from 'vitest';
import {
  bf16BitsToFloat,
  f16BitsToFloat,
  floatToBf16Bits,
  floatToF16Bits,
  openSafetensors,
  parseSafetensors,
  serializeSafetensors,
  toNumbers,
  type SafetensorsTensor,
} from './safetensors';

/** Build a safetensors file by hand: raw header JSON + raw data bytes. */
function rawFile(headerJson: string, data: number[] | Uint8Array, headerLenOverride?: bigint): Uint8Array {
  const h = new TextEncoder().encode(headerJson);
  const d = data instanceof Uint8Array ? data : Uint8Array.from(data);
  const out = new Uint8Array(8 + h.length + d.length);
  new DataView(out.buffer).setBigUint64(0, headerLenOverride ?? BigInt(h.length), true);
  out.set(h, 8);
  out.set(d, 8 + h.length);
  return out;
}

function u16le(...vals: number[]): number[] {
  return vals.flatMap((v) => [v & 0xff, (v >> 8) & 0xff]);
}

function f32le(...vals: number[]): Uint8Array {
  const out = new Uint8Array(4 * vals.length);
  vals.forEach((v, i) => new DataView(out.buffer).setFloat32(4 * i, v, true));
  return out;
}

const TWO_F32 = '{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}';

describe('half-precision bit patterns', () => {
  it('decodes BF16 exactly', () => {
    expect(bf16BitsToFloat(0x3f80)).toBe(1);
    expect(bf16BitsToFloat(0xc000)).toBe(-2);
    expect(bf16BitsToFloat(0x0000)).toBe(0);
    expect(Object.is(bf16BitsToFloat(0x8000), -0)).toBe(true);
    expect(bf16BitsToFloat(0x7f80)).toBe(Infinity);
    expect(bf16BitsToFloat(0xff80)).toBe(-Infinity);
    expect(bf16BitsToFloat(0x7fc0)).toBeNaN();
    expect(bf16BitsToFloat(0x3e80)).toBe(0.25);
    expect(bf16BitsToFloat(0x0001)).toBe(2 ** -133); // smallest subnormal
  });

  it('decodes F16 exactly, subnormals, infinities and NaN included', () => {
    expect(f16BitsToFloat(0x3c00)).toBe(1);
    expect(f16BitsToFloat(0xc000)).toBe(-2);
    expect(f16BitsToFloat(0x0001)).toBe(2 ** -24);
    expect(f16BitsToFloat(0x03ff)).toBe(1023 * 2 ** -24);
    expect(f16BitsToFloat(0x0400)).toBe(2 ** -14);
    expect(f16BitsToFloat(0x7bff)).toBe(65504);
    expect(f16BitsToFloat(0xfbff)).toBe(-65504);
    expect(f16BitsToFloat(0x7c00)).toBe(Infinity);
    expect(f16BitsToFloat(0xfc00)).toBe(-Infinity);
    expect(f16BitsToFloat(0x7e00)).toBeNaN();
    expect(Object.is(f16BitsToFloat(0x8000), -0)).toBe(true);
    expect(f16BitsToFloat(0x3555)).toBe(0.333251953125);
  });

  it('F16 encode/decode round-trips all 65536 bit patterns (NaNs stay NaN)', () => {
    for (let h = 0; h < 65536; h++) {
      const v = f16BitsToFloat(h);
      const back = floatToF16Bits(v);
      if (Number.isNaN(v)) expect(Number.isNaN(f16BitsToFloat(back))).toBe(true);
      else expect(back).toBe(h);
    }
  });

  it('BF16 encode/decode round-trips all 65536 bit patterns (NaNs stay NaN)', () => {
    for (let b = 0; b < 65536; b++) {
      const v = bf16BitsToFloat(b);
      const back = floatToBf16Bits(v);
      if (Number.isNaN(v)) expect(Number.isNaN(bf16BitsToFloat(back))).toBe(true);
      else expect(back).toBe(b);
    }
  });

  it('rounds to nearest, ties to even', () => {
    // F16: 1 + 2^-11 is exactly halfway between 1 and 1 + 2^-10 → even (1).
    expect(floatToF16Bits(1 + 2 ** -11)).toBe(0x3c00);
    // 1 + 3·2^-11 is halfway between 1+2^-10 (odd) and 1+2^-9 (even) → up.
    expect(floatToF16Bits(1 + 3 * 2 ** -11)).toBe(0x3c02);
    expect(floatToF16Bits(1 + 2 ** -11 + 2 ** -20)).toBe(0x3c01);
    expect(floatToF16Bits(65520)).toBe(0x7c00); // rounds up to Infinity
    expect(floatToF16Bits(65519)).toBe(0x7bff);
    expect(floatToF16Bits(2 ** -25)).toBe(0x0000); // tie → even (0)
    expect(floatToF16Bits(1.5 * 2 ** -25)).toBe(0x0001);
    expect(floatToF16Bits(3 * 2 ** -25)).toBe(0x0002); // tie between 1 and 2 subnormal units → 2
    expect(floatToF16Bits(-0)).toBe(0x8000);
    expect(floatToF16Bits(1e-10)).toBe(0x0000);
    // BF16
    expect(floatToBf16Bits(1 + 2 ** -8)).toBe(0x3f80); // tie → even
    expect(floatToBf16Bits(1 + 3 * 2 ** -8)).toBe(0x3f82); // tie → even (up)
    expect(floatToBf16Bits(1 + 2 ** -8 + 2 ** -20)).toBe(0x3f81);
    expect(floatToBf16Bits(3.4028234663852886e38)).toBe(0x7f80); // max float32 → Infinity
  });
});

describe('round trip', () => {
  it('round-trips every dtype with metadata', () => {
    const f = Float32Array.from([1, -2, 0.5, 3.25, -0.0078125, 65504]);
    const tensors: Record<string, SafetensorsTensor> = {
      f32: { dtype: 'F32', shape: [2, 3], data: Float32Array.from([Math.PI, -1e-30, 1e30, 0, -0, 7]) },
      f16: { dtype: 'F16', shape: [6], data: f },
      bf16: { dtype: 'BF16', shape: [3, 2], data: Float32Array.from([1, -2, 0.5, 3.25, 2 ** -133, 2 ** 127]) },
      i32: { dtype: 'I32', shape: [4], data: Int32Array.from([0, -1, 2147483647, -2147483648]) },
      i64: { dtype: 'I64', shape: [1, 3], data: BigInt64Array.from([0n, -5n, 9007199254740991n]) },
      scalar: { dtype: 'F32', shape: [], data: Float32Array.from([42]) },
      empty: { dtype: 'F32', shape: [0, 3], data: new Float32Array(0) },
    };
    const bytes = serializeSafetensors(tensors, { format: 'pt', note: 'héllo' });
    const headerLen = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect(headerLen % 8).toBe(0);
    const parsed = parseSafetensors(bytes, 'rt.safetensors');
    expect(parsed.metadata).toEqual({ format: 'pt', note: 'héllo' });
    expect([...parsed.tensors.keys()].sort()).toEqual(Object.keys(tensors).sort());
    for (const [name, t] of Object.entries(tensors)) {
      const got = parsed.tensors.get(name)!;
      expect(got.dtype).toBe(t.dtype);
      expect(got.shape).toEqual(t.shape);
      expect(got.data.constructor).toBe(t.data.constructor);
      expect(Array.from(got.data as ArrayLike<number | bigint>)).toEqual(
        Array.from(t.data as ArrayLike<number | bigint>),
      );
    }
    // f32 values survive bit-exactly (including -0).
    expect(Object.is(parsed.tensors.get('f32')!.data[4], -0)).toBe(true);
    expect(toNumbers(parsed.tensors.get('i64')!.data, 'i64')).toEqual([0, -5, 9007199254740991]);
  });

  it('rounds F16/BF16 on write and is deterministic', () => {
    const t = { x: { dtype: 'BF16' as const, shape: [2], data: Float32Array.from([1.00390625, Math.PI]) } };
    const a = serializeSafetensors(t);
    const b = serializeSafetensors(t);
    expect(a).toEqual(b);
    const got = parseSafetensors(a, 'r.safetensors').tensors.get('x')!.data as Float32Array;
    expect(got[0]).toBe(1); // tie → even
    expect(got[1]).toBe(bf16BitsToFloat(0x4049));
  });

  it('lays tensors out by element size then name, header padded with spaces', () => {
    const bytes = serializeSafetensors({
      b: { dtype: 'F16', shape: [1], data: Float32Array.from([1]) },
      a: { dtype: 'F16', shape: [1], data: Float32Array.from([1]) },
      c: { dtype: 'I64', shape: [1], data: BigInt64Array.from([1n]) },
      d: { dtype: 'F32', shape: [1], data: Float32Array.from([1]) },
    });
    const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    const text = new TextDecoder().decode(bytes.subarray(8, 8 + n));
    expect(text.trimEnd()).toBe(
      '{"c":{"dtype":"I64","shape":[1],"data_offsets":[0,8]},"d":{"dtype":"F32","shape":[1],"data_offsets":[8,12]},' +
        '"a":{"dtype":"F16","shape":[1],"data_offsets":[12,14]},"b":{"dtype":"F16","shape":[1],"data_offsets":[14,16]}}',
    );
    expect(/^ *$/.test(text.slice(text.trimEnd().length))).toBe(true);
  });

  it('rejects bad data on write', () => {
    expect(() => serializeSafetensors({ w: { dtype: 'F32', shape: [3], data: new Float32Array(2) } })).toThrow(/"w".*3 elements/);
    expect(() => serializeSafetensors({ w: { dtype: 'I64', shape: [1], data: new Float32Array(1) } })).toThrow(/"w".*BigInt64Array/);
  });

  it('toNumbers range-checks I64', () => {
    expect(() => toNumbers(BigInt64Array.from([2n ** 60n]), 'ids')).toThrow(/"ids".*element 0/);
  });
});

describe('hand-built fixtures', () => {
  // Header written by hand; data: BF16 [1, -2], F16 [1, 2^-24, Inf, -65504], I32 [7], F32 [0.5]
  const header =
    '{"__metadata__":{"format":"pt"},' +
    '"bf":{"dtype":"BF16","shape":[2],"data_offsets":[0,4]},' +
    '"h":{"dtype":"F16","shape":[2,2],"data_offsets":[4,12]},' +
    '"i":{"dtype":"I32","shape":[1],"data_offsets":[12,16]},' +
    '"f":{"dtype":"F32","shape":[],"data_offsets":[16,20]}}';
  const data = [
    ...u16le(0x3f80, 0xc000),
    ...u16le(0x3c00, 0x0001, 0x7c00, 0xfbff),
    7, 0, 0, 0,
    0x00, 0x00, 0x00, 0x3f, // 0.5f little-endian
  ];

  function check(parsed: ReturnType<typeof parseSafetensors>) {
    expect(parsed.metadata).toEqual({ format: 'pt' });
    expect(Array.from(parsed.tensors.get('bf')!.data as Float32Array)).toEqual([1, -2]);
    const h = parsed.tensors.get('h')!;
    expect(h.shape).toEqual([2, 2]);
    expect(Array.from(h.data as Float32Array)).toEqual([1, 2 ** -24, Infinity, -65504]);
    expect(Array.from(parsed.tensors.get('i')!.data as Int32Array)).toEqual([7]);
    const f = parsed.tensors.get('f')!;
    expect(f.shape).toEqual([]);
    expect(Array.from(f.data as Float32Array)).toEqual([0.5]);
  }

  it('parses a file written byte by byte (header length not a multiple of 8)', () => {
    const bytes = rawFile(header, data);
    check(parseSafetensors(bytes, 'hand.safetensors'));
    check(parseSafetensors(bytes.buffer as ArrayBuffer, 'hand.safetensors'));
  });

  it('parses a view at an odd byte offset (unaligned data)', () => {
    const inner = rawFile(header, data);
    const big = new Uint8Array(inner.length + 3);
    big.set(inner, 1);
    const view = new Uint8Array(big.buffer, 1, inner.length);
    expect(view.byteOffset).toBe(1);
    const parsed = parseSafetensors(view, 'unaligned.safetensors');
    check(parsed);
    // The result does not alias the input.
    big.fill(0);
    expect(Array.from(parsed.tensors.get('bf')!.data as Float32Array)).toEqual([1, -2]);
  });

  it('opens lazily: entries first, one tensor decoded on demand', () => {
    const file = openSafetensors(rawFile(header, data), 'lazy.safetensors');
    expect([...file.entries.keys()]).toEqual(['bf', 'h', 'i', 'f']);
    expect(file.entries.get('h')).toEqual({ dtype: 'F16', shape: [2, 2], byteLength: 8 });
    expect(Array.from(file.read('bf').data as Float32Array)).toEqual([1, -2]);
    expect(() => file.read('nope')).toThrow(/"lazy.safetensors", tensor "nope": no such tensor/);
  });

  it('parses an I64 tensor written by hand', () => {
    const bytes = rawFile('{"ids":{"dtype":"I64","shape":[2],"data_offsets":[0,16]}}', [
      1, 0, 0, 0, 0, 0, 0, 0, 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    ]);
    const t = parseSafetensors(bytes, 'i64.safetensors').tensors.get('ids')!;
    expect(t.data).toBeInstanceOf(BigInt64Array);
    expect(toNumbers(t.data)).toEqual([1, -2]);
  });
});

describe('malformed files', () => {
  const file = 'bad.safetensors';
  const cases: Array<[string, Uint8Array, RegExp, string | null]> = [
    ['short file', new Uint8Array([1, 2, 3]), /shorter than the 8-byte header/, null],
    ['header length past the end', rawFile('{}', [], 1000n), /header length 1000 runs past the end/, null],
    ['huge header length', rawFile('{}', [], 2n ** 63n), /runs past the end/, null],
    ['header not JSON', rawFile('{"w": {dtype', []), /not valid UTF-8 JSON/, null],
    ['header not an object', rawFile('[1,2]', []), /not a JSON object/, null],
    [
      'offsets out of range',
      rawFile('{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}', [0, 0, 0, 0]),
      /out of range/,
      'w',
    ],
    [
      'reversed offsets',
      rawFile('{"w":{"dtype":"F32","shape":[0],"data_offsets":[4,0]}}', [0, 0, 0, 0]),
      /out of range/,
      'w',
    ],
    [
      'overlapping offsets',
      rawFile(
        '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}',
        new Uint8Array(12),
      ),
      /overlap those of tensor "a"/,
      'b',
    ],
    [
      'unknown dtype',
      rawFile('{"w":{"dtype":"F8_E4M3","shape":[1],"data_offsets":[0,1]}}', [0]),
      /unknown or unsupported dtype "F8_E4M3"/,
      'w',
    ],
    [
      'shape/size mismatch',
      rawFile('{"w":{"dtype":"F16","shape":[2,3],"data_offsets":[0,8]}}', new Uint8Array(8)),
      /needs 12 bytes.*hold 8/,
      'w',
    ],
    [
      'bad shape',
      rawFile('{"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}', new Uint8Array(4)),
      /not a list of non-negative integers/,
      'w',
    ],
    [
      'missing offsets',
      rawFile('{"w":{"dtype":"F32","shape":[1]}}', new Uint8Array(4)),
      /data_offsets/,
      'w',
    ],
    ['bad metadata', rawFile('{"__metadata__":{"a":1}}', []), /__metadata__/, null],
    [
      // The header is padded with 4 spaces but its length leaves them out: the weights would start 4 bytes early.
      'header length pointing into the header padding',
      rawFile(`${TWO_F32}    `, f32le(1, 2), BigInt(TWO_F32.length)),
      new RegExp(`header length ${TWO_F32.length} stops 4 bytes short of the header's padding.*should be ${TWO_F32.length + 4}`),
      null,
    ],
    [
      'a gap between tensors',
      rawFile(
        '{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}',
        new Uint8Array(12),
      ),
      /leave a gap after tensor "a" \[0, 4\]: bytes 4–7 of the data buffer belong to no tensor/,
      'b',
    ],
    [
      'a first tensor not at byte 0',
      rawFile('{"w":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}', new Uint8Array(8)),
      /start at byte 4, but the first tensor must start at byte 0/,
      'w',
    ],
    [
      'trailing bytes after the last tensor',
      rawFile('{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}', [0, 0, 0x80, 0x3f, 0xde, 0xad]),
      /the tensors cover 4 bytes but the data buffer holds 6: the last 2 bytes of the file belong to no tensor/,
      null,
    ],
    ['trailing bytes and no tensor', rawFile('{}', [1, 2, 3]), /the tensors cover 0 bytes but the data buffer holds 3/, null],
    [
      'a duplicated tensor name (the first entry’s bytes become a gap)',
      rawFile(
        '{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"w":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}',
        new Uint8Array(8),
      ),
      /first tensor must start at byte 0/,
      'w',
    ],
  ];

  for (const [label, bytes, pattern, tensor] of cases) {
    it(`rejects: ${label}`, () => {
      let err: Error | null = null;
      try {
        parseSafetensors(bytes, file);
      } catch (e) {
        err = e as Error;
      }
      expect(err).toBeInstanceOf(Error);
      expect(err!.message).toMatch(pattern);
      expect(err!.message).toContain(`"${file}"`);
      if (tensor !== null) expect(err!.message).toContain(`tensor "${tensor}"`);
    });
  }
});

describe('the data buffer is covered exactly', () => {
  it('accepts what the reference reader accepts: whitespace around the header JSON, zero-sized tensors anywhere', () => {
    expect(parseSafetensors(rawFile('{}\r \t\n', []), 'pad.safetensors').tensors.size).toBe(0);
    expect(parseSafetensors(rawFile('\t\n{}\r ', []), 'lead.safetensors').tensors.size).toBe(0);
    const zeros = parseSafetensors(
      rawFile(
        '{"e0":{"dtype":"F32","shape":[0],"data_offsets":[0,0]},"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},' +
          '"e1":{"dtype":"I64","shape":[3,0],"data_offsets":[8,8]}}',
        f32le(1, 2),
      ),
      'zero.safetensors',
    );
    expect(Array.from(zeros.tensors.get('w')!.data as Float32Array)).toEqual([1, 2]);
    expect(zeros.tensors.get('e1')!.shape).toEqual([3, 0]);
  });

  it('rejects every header length that moves the data start, and every truncation or appended byte, of a file we write', () => {
    // An odd total of bytes of JSON, so the header carries padding for a wrong length to point into.
    const bytes = serializeSafetensors({
      a: { dtype: 'F32', shape: [3], data: Float32Array.from([1, 2, 3]) },
      b: { dtype: 'BF16', shape: [1], data: Float32Array.from([4]) },
    });
    const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    const json = new TextDecoder().decode(bytes.subarray(8, 8 + n)).trimEnd().length;
    expect(n - json).toBeGreaterThan(0);
    expect(() => parseSafetensors(bytes, 'ok.safetensors')).not.toThrow();
    for (let len = json; len < n + 8; len++) {
      if (len === n) continue;
      const moved = bytes.slice();
      new DataView(moved.buffer).setBigUint64(0, BigInt(len), true);
      expect(() => parseSafetensors(moved, 'moved.safetensors'), `header length ${len} (true: ${n})`).toThrow(/"moved\.safetensors"/);
    }
    for (let k = 1; k <= 8; k++) {
      expect(() => parseSafetensors(bytes.subarray(0, bytes.length - k), 'cut.safetensors')).toThrow(/"cut\.safetensors"/);
      const longer = new Uint8Array(bytes.length + k);
      longer.set(bytes);
      expect(() => parseSafetensors(longer, 'long.safetensors')).toThrow(/"long\.safetensors".*the last \d+ bytes of the file belong to no tensor/);
    }
  });
});
