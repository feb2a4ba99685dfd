/**
 * The bundled sandbox preference set: its scenes and pictures, the judge's verdicts on both responses, and its
 * `S_i` as the trainer gets them (the sandbox CLIP through the CLIP scorer), against an independent computation.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { RawImage } from '@huggingface/transformers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SANDBOX_CLIP_DIR } from '../../scripts/cli/train';
import { nodeFolderSource } from '../../scripts/lib/nodeModelSource';
import { scenePixels } from '../../scripts/sandbox-models/clip';
import { weightsAsStored } from '../../scripts/tiny-models/common';
import { useTestBackend } from '../../tests/setup/testBackend';
import { splitSentences } from '../aspo/sentences';
import { loadClipScorer, type ClipScorer } from '../models/clip';
import { TfjsClip, type ClipModelConfig } from '../models/tfjs/clip';
import { clipSimilarities } from '../train/clipSimilarity';
import { pairsFingerprint } from '../train/checkpoint';
import { sandboxImageLoader } from '../train/pairPreparation';
import { DESCRIBE_PROMPT } from './captions';
import { judgeDescription } from './judge';
import { SANDBOX_HELD_OUT_SIZE, SANDBOX_TRAIN_SIZE, sandboxImage, sandboxPairs, sandboxPreference, sandboxPreferences } from './preferences';
import { renderScene, SCENE_SIZE } from './render';
import { HELD_OUT_SET, heldOutReason } from './splits';

const all = () => [...sandboxPreferences().train, ...sandboxPreferences()['held-out']];

describe('the sandbox preference set', () => {
  it('has SANDBOX_TRAIN_SIZE training pairs on training scenes and SANDBOX_HELD_OUT_SIZE on the first held-out scenes, the same on every run', () => {
    const { train, heldOut } = sandboxPairs();
    expect([train.length, heldOut.length]).toEqual([SANDBOX_TRAIN_SIZE, SANDBOX_HELD_OUT_SIZE]);
    expect(sandboxPreferences().train.every((p) => heldOutReason(p.scene) === null)).toBe(true);
    expect(sandboxPreferences()['held-out'].map(({ scene, seed }) => ({ scene, seed }))).toEqual(HELD_OUT_SET.slice(0, SANDBOX_HELD_OUT_SIZE).map(({ scene, seed }) => ({ scene, seed })));
    expect(new Set([...train, ...heldOut].map((p) => p.image)).size).toBe(SANDBOX_TRAIN_SIZE + SANDBOX_HELD_OUT_SIZE);
    // Pinned: a change to the world, the captions, the corruptions or the seed changes these (and every checkpoint's data).
    expect([pairsFingerprint(train), pairsFingerprint(heldOut)]).toEqual(['24:66a5803e', '8:9d5a5c64']);
    for (const p of [...train, ...heldOut]) {
      expect(p.prompt).toBe(DESCRIBE_PROMPT);
      expect(p.similarity).toBeUndefined(); // S_i come from CLIP, not from the data
    }
  });

  it('chosen is the correct description by the judge; rejected has exactly the corrupted sentences hallucinated, of their kinds', () => {
    let twice = 0;
    for (const { pair, scene, corruptions } of all()) {
      const chosen = judgeDescription(scene, pair.chosen);
      expect({ image: pair.image, hallucinated: chosen.hallucinated, unparsed: chosen.unparsed, recall: chosen.recall }).toEqual({ image: pair.image, hallucinated: 0, unparsed: 0, recall: 1 });
      const rejected = judgeDescription(scene, pair.rejected);
      const verdicts = rejected.sentences.map((s) => (s.verdict === 'hallucinated' ? s.kind : s.verdict));
      const expected = verdicts.map((_, i) => corruptions.find((c) => c.sentence === i)?.kind ?? 'correct');
      expect({ image: pair.image, verdicts }).toEqual({ image: pair.image, verdicts: expected });
      expect(corruptions.length).toBeGreaterThanOrEqual(1);
      if (corruptions.length > 1) twice++;
    }
    // every third pair (index 2, 5, …) of each split also has an absent object
    expect(twice).toBe(Math.floor(SANDBOX_TRAIN_SIZE / 3) + Math.floor(SANDBOX_HELD_OUT_SIZE / 3));
  });

  it('draws each pair’s picture from its key; a key of the 32×32 world or another name is refused with the keys that exist', () => {
    for (const { pair, scene, seed } of all()) {
      expect(sandboxPreference(pair.image!)!.scene).toEqual(scene);
      const img = sandboxImage(pair.image!);
      expect([img.width, img.height]).toEqual([SCENE_SIZE, SCENE_SIZE]);
      expect(img.data).toEqual(renderScene(scene, seed).data);
    }
    expect(() => sandboxImage('sandbox:s00')).toThrow(/"sandbox:s00" is not a sandbox picture: the sandbox's are sandbox:train\/0–23 and sandbox:held-out\/0–7/);
    expect(() => sandboxImage(`sandbox:train/${SANDBOX_TRAIN_SIZE}`)).toThrow(/is not a sandbox picture/);
    expect(sandboxPreference('photo.png')).toBeUndefined();
  });
});

describe('its S_i: the sandbox CLIP through the CLIP scorer', () => {
  let scorer: ClipScorer;
  let clip: TfjsClip;
  beforeAll(async () => {
    await useTestBackend();
    scorer = await loadClipScorer(nodeFolderSource(SANDBOX_CLIP_DIR), { device: 'cpu' });
    const config = JSON.parse(readFileSync(join(SANDBOX_CLIP_DIR, 'config.json'), 'utf8')) as ClipModelConfig;
    clip = new TfjsClip(config, weightsAsStored(new Uint8Array(readFileSync(join(SANDBOX_CLIP_DIR, 'model.safetensors'))), 'model.safetensors'));
  });
  afterAll(() => {
    scorer?.dispose();
    clip?.dispose();
  });

  it("equal the scorer's on the rendered picture, and the cosine of the TF.js CLIP's embeddings in float64", async () => {
    const similarity = clipSimilarities(async () => scorer, sandboxImageLoader);
    const picked = [sandboxPreferences().train[0], sandboxPreferences().train[2], sandboxPreferences()['held-out'][1]];
    for (const { pair, scene, seed } of picked) {
      const sentences = splitSentences(pair.chosen).map((s) => s.text);
      const got = await similarity(pair, sentences);
      const img = renderScene(scene, seed);
      const direct = await scorer.similarity(new RawImage(img.data, img.width, img.height, 3), sentences);
      expect(got).toEqual(direct.map((r) => r.similarity));

      // The same, from the safetensors weights in TF.js: each sentence alone (no padding), the picture normalised as CLIPImageProcessor does.
      const imageEmbed = clip.imageEmbeds(tf.tensor4d(scenePixels(img.data, SCENE_SIZE), [1, 3, SCENE_SIZE, SCENE_SIZE]));
      const imageRow = ((await imageEmbed.array()) as number[][])[0];
      imageEmbed.dispose();
      for (const [i, sentence] of sentences.entries()) {
        const textEmbed = clip.textEmbeds([scorer.textIds(sentence).ids]);
        const textRow = ((await textEmbed.array()) as number[][])[0];
        textEmbed.dispose();
        const cosine = textRow.reduce((s, x, k) => s + x * imageRow[k], 0) / (Math.hypot(...textRow) * Math.hypot(...imageRow));
        expect({ sentence, diff: Math.abs(got[i] - cosine) < 1e-4 }).toEqual({ sentence, diff: true });
      }
    }
  });

  it('refuses a pair without an image, naming it', async () => {
    const similarity = clipSimilarities(async () => scorer, sandboxImageLoader, () => 'pairs.jsonl:3');
    const pair = { ...sandboxPairs().train[0], image: undefined };
    await expect(similarity(pair, ['There is one red circle.'])).rejects.toThrow(/pairs\.jsonl:3 has no image and no similarity\.chosen/);
  });
});
