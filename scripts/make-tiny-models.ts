/**
 * Deterministic tiny random models in the exact Hugging Face folder layout.
 *
 *   npx tsx scripts/make-tiny-models.ts [outDir ...]
 *
 * Each out dir (default: tests/fixtures/models, which the app also serves at /models/: scripts/lib/bundledModels.ts) receives
 *   tiny-smolvlm/   Idefics3ForConditionalGeneration (SmolVLM-256M-Instruct layout, BF16 weights)
 *   tiny-smollm2/   LlamaForCausalLM (SmolLM2-Instruct layout, tied embeddings, F32 weights)
 *   tiny-clip/      CLIPModel (clip-vit-base-patch32 layout: CLIPTokenizer, CLIPImageProcessor, F32 weights)
 * with config.json, generation_config.json, tokenizer.json, tokenizer_config.json,
 * special_tokens_map.json, (preprocessor_config.json, processor_config.json,
 * chat_template.json for the VLM) and model.safetensors, so that the real
 * loading code (transformers.js AutoTokenizer/AutoProcessor, our safetensors
 * reader) runs on them. Weights are random (seeded): the models say nothing
 * sensible; they exist so every loading path can be tested offline.
 *
 * The ONNX files that transformers.js loads (tiny-smolvlm: `onnx/vision_encoder.onnx`,
 * `onnx/embed_tokens.onnx`, `onnx/decoder_model_merged.onnx`; tiny-clip: `onnx/text_model.onnx`,
 * `onnx/vision_model.onnx`) are built with `onnx-proto` from the very tensors stored in
 * `model.safetensors`, read back through our safetensors reader (BF16 decoded exactly, as the TF.js
 * loader sees them), so the ONNX and TF.js engines compute the same function. They are float32 and
 * carry no dtype suffix (the ONNX engine's default `dtype: 'fp32'`); tiny-smolvlm also ships the Hub's
 * quantized variants, `<session>_quantized.onnx` (q8) and `<session>_q4.onnx` (q4), docs/architecture.md.
 *
 * One file per model under scripts/tiny-models/ (and the tokenizers they share); their weights' names and shapes
 * are their families' (src/models/families/). The generators are pure (no Node APIs), so tests build the same
 * bytes in memory.
 */
import type { TinyModel } from './tiny-models/common';
import { makeTinyClipModel } from './tiny-models/clip';
import { makeTinySmolLM2 } from './tiny-models/smollm2';
import { makeTinySmolVLM } from './tiny-models/smolvlm';

export function makeTinyModels(): TinyModel[] {
  return [makeTinySmolVLM(), makeTinySmolLM2(), makeTinyClipModel()];
}

/**
 * Write a model folder to `dir/<model.name>/` (Node only). Returns the folder path.
 * Only this generator's files are (over)written; other files in the folder
 * (e.g. `onnx/*.onnx` made by another script) are left alone.
 */
export async function writeModel(dir: string, model: TinyModel): Promise<string> {
  const fs = await import('node:fs/promises');
  const path = await import('node:path');
  const root = path.join(dir, model.name);
  for (const [name, contents] of Object.entries(model.files)) {
    const file = path.join(root, name);
    await fs.mkdir(path.dirname(file), { recursive: true });
    await fs.writeFile(file, contents);
  }
  return root;
}

async function main(argv: string[]): Promise<void> {
  const dirs = argv.length > 0 ? argv : ['tests/fixtures/models'];
  const models = makeTinyModels();
  for (const dir of dirs) {
    for (const m of models) {
      const root = await writeModel(dir, m);
      const bytes = Object.values(m.files).reduce((s, c) => s + (typeof c === 'string' ? new TextEncoder().encode(c).length : c.length), 0);
      console.log(`${root}: ${Object.keys(m.files).length} files, ${(bytes / 1024).toFixed(0)} KiB, vocab ${m.tokenizer.size}`);
    }
  }
}

const isMain =
  typeof process !== 'undefined' &&
  Array.isArray(process.argv) &&
  process.argv[1] !== undefined &&
  /make-tiny-models\.[cm]?[jt]s$/.test(process.argv[1]);
if (isMain) {
  main(process.argv.slice(2)).catch((e) => {
    console.error(e);
    process.exitCode = 1;
  });
}
