/**
 * transformers.js' ONNX data types and the file each one loads: `onnx/<session><suffix>.onnx`, per session. The
 * same names the Hub's transformers.js-ready repositories use (`decoder_model_merged_q4.onnx`, …), and the names our
 * own exports are written under (scripts/onnx/idefics3.ts).
 */
export const ONNX_DTYPE_SUFFIX = {
  fp32: '',
  fp16: '_fp16',
  int8: '_int8',
  uint8: '_uint8',
  q8: '_quantized',
  q4: '_q4',
  q4f16: '_q4f16',
  bnb4: '_bnb4',
} as const;

export type OnnxDtype = keyof typeof ONNX_DTYPE_SUFFIX;
/** One dtype for every session, or one per session (e.g. `{ decoder_model_merged: 'q4', embed_tokens: 'fp32', vision_encoder: 'fp32' }`). */
export type OnnxDtypeOption = OnnxDtype | Partial<Record<string, OnnxDtype>>;

export function dtypeOf(option: OnnxDtypeOption, session: string): OnnxDtype {
  return typeof option === 'string' ? option : (option[session] ?? 'fp32');
}

/** The file of one session in one dtype. */
export function onnxSessionFile(session: string, dtype: OnnxDtype): string {
  return `onnx/${session}${ONNX_DTYPE_SUFFIX[dtype]}.onnx`;
}

/** `onnx/<session><dtype suffix>.onnx` for each session. */
export function onnxSessionFiles(sessions: readonly string[], dtype: OnnxDtypeOption = 'fp32'): string[] {
  return sessions.map((s) => onnxSessionFile(s, dtypeOf(dtype, s)));
}
