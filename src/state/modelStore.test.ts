import { RawImage } from '@huggingface/transformers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FIXTURE_MODELS } from '../../scripts/lib/nodeModelSource';
import { startModelMirror, type ModelMirror } from '../../scripts/lib/modelMirror';
// (The pickers persist to localStorage, which Node lacks: zustand warns and the store works in memory.)
import { DEFAULT_CLIP_ID, DEFAULT_MLLM_ID } from '../models/catalog';
import { restorePickers, useModels } from './modelStore';

let mirror: ModelMirror;
beforeAll(async () => {
  mirror = await startModelMirror(FIXTURE_MODELS);
  useModels.getState().setHubEndpoint(mirror.url);
});
afterAll(() => mirror.close());

function image(): RawImage {
  const data = new Uint8ClampedArray(32 * 32 * 3);
  for (let i = 0; i < data.length; i++) data[i] = (i * 37) % 256;
  return new RawImage(data, 32, 32, 3);
}

async function similarity(): Promise<number> {
  const handle = useModels.getState().clip.handle!;
  return (await handle.similarity(image(), ['A red square.']))[0].similarity;
}

describe('a failed load never takes away the model that works', () => {
  it('keeps the loaded CLIP and its picker on a failed hub load, an invalid id and a failed catalog load; a good load clears the error', async () => {
    await useModels.getState().load('clip', { hubId: 'test-org/tiny-clip' });
    const working = useModels.getState().clip;
    expect(working.status).toBe('ready');
    expect(working.error).toBeNull();
    const before = await similarity();

    // The file is not on the hub: the message says so, the working model stays loaded and usable.
    await useModels.getState().load('clip', { hubId: 'test-org/no-such-model' });
    let slot = useModels.getState().clip;
    expect(slot).toMatchObject({ status: 'ready', label: 'test-org/tiny-clip' });
    expect(slot.handle).toBe(working.handle);
    expect(slot.error).toMatch(/model test-org\/no-such-model has no file config\.json \(HTTP 404/);
    expect(slot.target).toBe('test-org/no-such-model');
    expect(await similarity()).toBe(before);

    // An invalid id: a message that says why, and no request at all (the load neither throws nor reaches the mirror).
    const hits = mirror.hits.length;
    await expect(useModels.getState().load('clip', { hubId: 'not a valid id!!' })).resolves.toBeUndefined();
    slot = useModels.getState().clip;
    expect(slot.error).toMatch(/invalid Hugging Face model id "not a valid id!!": it contains " "/);
    expect(slot.handle).toBe(working.handle);
    expect(mirror.hits.length).toBe(hits);

    // A catalog entry that fails (the mirror has no Xenova/clip-vit-base-patch32): the picker goes back to the
    // choice that loaded the working model.
    useModels.getState().setChoice('clip', 'clip-b32');
    await useModels.getState().load('clip', { entryId: 'clip-b32' });
    slot = useModels.getState().clip;
    expect(slot.error).toMatch(/HTTP 404/);
    expect(slot.handle).toBe(working.handle);
    expect(working.picked!.choice).toBe(DEFAULT_CLIP_ID);
    expect(useModels.getState().clipChoice).toBe(DEFAULT_CLIP_ID);
    expect(await similarity()).toBe(before);

    // A load that works replaces the model and clears the error.
    await useModels.getState().load('clip', { hubId: 'other-org/tiny-clip' });
    slot = useModels.getState().clip;
    expect(slot).toMatchObject({ status: 'ready', label: 'other-org/tiny-clip', error: null, target: null });
    expect(slot.handle).not.toBe(working.handle);
    expect(await similarity()).toBeCloseTo(before, 6);
  });

  it('with nothing loaded, a failed load leaves the slot in error (nothing to keep)', async () => {
    await useModels.getState().load('mllm', { hubId: 'test-org/no-such-model' });
    expect(useModels.getState().mllm).toMatchObject({ status: 'error', handle: null, target: 'test-org/no-such-model' });
    expect(useModels.getState().mllm.error).toMatch(/HTTP 404/);
  });
});

describe('pickers saved by an older version', () => {
  it('move from a former default or a model the catalog no longer has to today\'s default; a choice made stays', () => {
    expect(DEFAULT_CLIP_ID).toBe('sandbox-clip');
    const endpoint = { hubEndpoint: 'https://mirror.example' };
    // Version 1 (the tiny models were the defaults): its pickers on them were never a choice.
    expect(restorePickers({ mllmChoice: 'tiny-smolvlm', mllmEngine: 'onnx', clipChoice: 'tiny-clip', ...endpoint }, 1)).toEqual({
      mllmChoice: DEFAULT_MLLM_ID,
      mllmEngine: 'onnx',
      clipChoice: 'sandbox-clip',
      ...endpoint,
    });
    // Today, the tiny CLIP picked on purpose stays; a hub model stays with its engine.
    expect(restorePickers({ mllmChoice: 'smolvlm-256m', mllmEngine: 'tfjs', clipChoice: 'tiny-clip' }, 2)).toMatchObject({ mllmChoice: 'smolvlm-256m', mllmEngine: 'tfjs', clipChoice: 'tiny-clip' });
    // Ids no catalog entry of that role has (removed, or of the other role): the defaults, and the default's engine.
    expect(restorePickers({ mllmChoice: 'gone-vlm', mllmEngine: 'tfjs', clipChoice: 'smolvlm-256m' }, 2)).toMatchObject({
      mllmChoice: DEFAULT_MLLM_ID,
      mllmEngine: 'tfjs',
      clipChoice: DEFAULT_CLIP_ID,
    });
    expect(restorePickers({ mllmEngine: 'webnn' as never }, 2)).toMatchObject({ mllmChoice: DEFAULT_MLLM_ID, mllmEngine: 'onnx', clipChoice: DEFAULT_CLIP_ID });
  });
});
