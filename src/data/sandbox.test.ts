import { describe, expect, it } from 'vitest';
import { splitSentences } from '../aspo/sentences';
import {
  renderScene,
  sandboxImage,
  sandboxPairs,
  sandboxScene,
  sandboxSentenceSimilarities,
  sandboxSimilarity,
  sandboxSingleSentencePairs,
  SANDBOX_SCENES,
} from './sandbox';

describe('sandbox world', () => {
  it('has 24 training and 8 held-out pairs on different scenes, identical on every call', () => {
    const { train, heldOut } = sandboxPairs();
    expect(train).toHaveLength(24);
    expect(heldOut).toHaveLength(8);
    expect(new Set([...train, ...heldOut].map((p) => p.image)).size).toBe(32);
    expect(sandboxPairs()).toEqual({ train, heldOut });
    for (const p of [...train, ...heldOut]) {
      expect(p.chosen).not.toBe(p.rejected);
      expect(p.similarity!.chosen).toHaveLength(splitSentences(p.chosen).length);
    }
  });

  it('draws the ground truth: shape colour at the centre of a single shape, background in the corner', () => {
    const scene = SANDBOX_SCENES.find((s) => s.count === 1 && s.colour === 'red' && s.background === 'white')!;
    const img = renderScene(scene);
    expect(img.data).toHaveLength(32 * 32 * 3);
    const px = (x: number, y: number) => Array.from(img.data.subarray((y * 32 + x) * 3, (y * 32 + x) * 3 + 3));
    expect(px(16, 17)).toEqual([220, 30, 30]);
    expect(px(0, 0)).toEqual([250, 250, 250]);
    expect(sandboxImage(`sandbox:${scene.id}`)!.data).toEqual(img.data);
    expect(sandboxImage('photo.png')).toBeUndefined();
  });

  it('scores true sentences above hallucinated ones (the CLIP stand-in)', () => {
    const { train } = sandboxPairs();
    for (const p of train) {
      const scene = sandboxScene(p.image!)!;
      const chosen = splitSentences(p.chosen).map((s) => sandboxSimilarity(scene, s.text.trim()));
      const rejected = splitSentences(p.rejected).map((s) => sandboxSimilarity(scene, s.text.trim()));
      expect(Math.min(...chosen)).toBeGreaterThan(0.2);
      expect(Math.min(...rejected)).toBeLessThan(Math.min(...chosen) - 0.03); // each rejected answer holds a hallucinated sentence
    }
  });

  it('gives the stored similarities through the trainer callback too', async () => {
    const pair = sandboxPairs().heldOut[3];
    const sentences = splitSentences(pair.chosen).map((s) => s.text);
    expect(await sandboxSentenceSimilarities(pair, sentences)).toEqual(pair.similarity!.chosen);
    await expect(sandboxSentenceSimilarities({ ...pair, image: 'cat.png' }, sentences)).rejects.toThrow(/CLIP scorer/);
  });

  it('offers single-sentence text pairs', () => {
    for (const p of sandboxSingleSentencePairs()) {
      expect(splitSentences(p.chosen)).toHaveLength(1);
      expect(splitSentences(p.rejected)).toHaveLength(1);
      expect(p.image).toBeUndefined();
    }
  });
});
