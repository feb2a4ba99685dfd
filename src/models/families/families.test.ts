import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FIXTURE_MODELS } from '../../../scripts/lib/bundledModels';
import { parseModelConfig } from '../config';
import { onnxSessionFiles } from '../onnx/engine';
import { parseSafetensors } from '../safetensors';
import { clipFamily, familyForModelType, familyOf, MLLM_FAMILIES, SUPPORTED_MODEL_TYPES } from '.';
import { idefics3Family } from './idefics3';
import { llamaFamily } from './llama';

function fixture(model: string, file: string): Uint8Array {
  return new Uint8Array(readFileSync(join(FIXTURE_MODELS, model, file)));
}

function configOf(model: string): Record<string, unknown> {
  return JSON.parse(new TextDecoder().decode(fixture(model, 'config.json')));
}

/** Every tensor of a checkpoint with its shape, in the file's (sorted) order. */
function storedShapes(model: string): [string, number[]][] {
  return [...parseSafetensors(fixture(model, 'model.safetensors'), `${model}/model.safetensors`).tensors].map(([name, t]) => [name, t.shape]);
}

function sortedShapes(shapes: Map<string, number[]>): [string, number[]][] {
  return [...shapes].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

describe('model families', () => {
  it('the registry reads every supported model_type, in the order the errors list them', () => {
    expect(SUPPORTED_MODEL_TYPES).toEqual(['idefics3', 'smolvlm', 'llama']);
    expect(familyForModelType('smolvlm')).toBe(idefics3Family);
    expect(familyForModelType('idefics3')).toBe(idefics3Family);
    expect(familyForModelType('llama')).toBe(llamaFamily);
    expect(familyForModelType('clip')).toBeUndefined();
    expect(familyForModelType(7)).toBeUndefined();
  });

  it("parses each tiny model's config.json with its family, and finds the family back from the parsed config", () => {
    for (const [model, family] of [['tiny-smolvlm', idefics3Family], ['tiny-smollm2', llamaFamily]] as const) {
      const config = parseModelConfig(configOf(model));
      expect(config.modelType).toBe(family.id);
      expect(familyOf(config)).toBe(family);
    }
    expect(parseModelConfig({ ...configOf('tiny-smolvlm'), model_type: 'smolvlm' }).modelType).toBe('idefics3');
  });

  it("names exactly the tensors (and shapes) each tiny model's model.safetensors stores", () => {
    for (const model of ['tiny-smolvlm', 'tiny-smollm2']) {
      const config = parseModelConfig(configOf(model));
      expect(sortedShapes(familyOf(config).weightShapes(config)), model).toEqual(storedShapes(model));
    }
    const clip = configOf('tiny-clip') as unknown as Parameters<typeof clipFamily.weightShapes>[0];
    expect(sortedShapes(clipFamily.weightShapes(clip))).toEqual(storedShapes('tiny-clip'));
  });

  it('puts the text model under its prefix, lm_head only when the embeddings are not tied', () => {
    const vlm = parseModelConfig(configOf('tiny-smolvlm'));
    const lm = parseModelConfig(configOf('tiny-smollm2'));
    const vlmNames = [...familyOf(vlm).weightShapes(vlm).keys()];
    const lmNames = [...familyOf(lm).weightShapes(lm).keys()];
    expect(vlmNames.filter((n) => n.includes('embed_tokens'))).toEqual([`${idefics3Family.textPrefix}embed_tokens.weight`]);
    expect(lmNames.filter((n) => n.includes('embed_tokens'))).toEqual([`${llamaFamily.textPrefix}embed_tokens.weight`]);
    expect(vlmNames).toContain('lm_head.weight');
    expect(lmNames).not.toContain('lm_head.weight');
  });

  it("lists the ONNX sessions whose files the tiny models ship, and only idefics3/llama configs load on ONNX", () => {
    for (const f of onnxSessionFiles(idefics3Family.onnx.sessions)) expect(existsSync(join(FIXTURE_MODELS, 'tiny-smolvlm', f)), f).toBe(true);
    for (const f of onnxSessionFiles(clipFamily.onnx.sessions)) expect(existsSync(join(FIXTURE_MODELS, 'tiny-clip', f)), f).toBe(true);
    expect(MLLM_FAMILIES.flatMap((f) => f.onnx.modelTypes)).toEqual(['idefics3', 'llama']);
    expect(idefics3Family.onnx.modelClass).toBe('AutoModelForVision2Seq');
    expect(llamaFamily.onnx.modelClass).toBe('AutoModelForCausalLM');
  });

  it('writes a conversation the way each chat template reads it', () => {
    expect(idefics3Family.chatFormat(5)).toEqual({ contentAsParts: true, endOfTurnId: 5 });
    expect(llamaFamily.chatFormat(2)).toEqual({ contentAsParts: false, endOfTurnId: 2 });
    expect(MLLM_FAMILIES.filter((f) => f.multimodal)).toEqual([idefics3Family]);
  });
});
