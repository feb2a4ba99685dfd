/**
 * The committed sandbox CLIP (tests/fixtures/models/sandbox-clip, made by `npm run models:sandbox -- --only clip`): loaded
 * through the app's own CLIP scorer from a folder, how often it tells a true sentence of a held-out scene from the
 * same sentence made false (issue 12, item 4), as its README says. Also: its pictures go into the model as
 * transformers.js' processor prepares them, its tokenizer reads the caption language one word a token, and
 * training is deterministic from the seed.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { RawImage, type Tensor } from '@huggingface/transformers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FIXTURE_MODELS, nodeFolderSource } from '../scripts/lib/nodeModelSource';
import { evaluateClip, heldOutPairs, languageSentences, madeFalse, SAME_SENTENCE_KINDS } from '../scripts/sandbox-models/clipPairs';
import { sandboxClipReadme } from '../scripts/make-sandbox-models';
import { scenePixels, trainSandboxClip } from '../scripts/sandbox-models/clip';
import { loadClipScorer, type ClipScorer } from '../src/models/clip';
import { Prng } from '../src/models/prng';
import { judgeSentence } from '../src/sandbox/judge';
import { renderScene } from '../src/sandbox/render';
import { HELD_OUT_SET } from '../src/sandbox/splits';

const DIR = join(FIXTURE_MODELS, 'sandbox-clip');
const config = JSON.parse(readFileSync(join(DIR, 'config.json'), 'utf8')) as {
  architectures: string[];
  vision_config: { image_size: number };
  text_config: { max_position_embeddings: number };
};

let scorer: ClipScorer;

beforeAll(async () => {
  scorer = await loadClipScorer(nodeFolderSource(DIR), { device: 'cpu' });
});

afterAll(() => scorer.dispose());

describe('the sandbox CLIP', () => {
  // Issue 12 asks for ≥ 90 % of the held-out pairs; the committed model does not reach it (its README gives the
  // figures: colour, background and absent objects are learnt, count mostly, shape and side not). This pins what it
  // does.
  it('scores a true held-out sentence above the same sentence made false in most pairs, as its README says', async () => {
    const e = await evaluateClip(scorer);
    expect(e.sameSentence.pairs).toBe(HELD_OUT_SET.length * 4 + HELD_OUT_SET.filter((h) => h.scene.groups.length === 2).length);
    expect(e.sameSentence.share).toBeGreaterThan(0.78);
    expect(e.sameSentence.auroc).toBeGreaterThan(0.83);
    for (const kind of ['colour', 'background', 'absent-object'] as const) expect({ kind, share: e.byKind[kind].share >= 0.95 }).toEqual({ kind, share: true });
    const readme = readFileSync(join(DIR, 'README.md'), 'utf8');
    const [seed, steps, batch] = /seed (\d+), (\d+) steps of (\d+) training scenes/.exec(readme)!.slice(1).map(Number);
    expect(readme).toBe(sandboxClipReadme({ seed, steps, batch }, e));
  });

  it('the held-out pairs are a true sentence and the same sentence made false, by the judge', () => {
    const pairs = heldOutPairs();
    expect(pairs.map((p) => p.scene)).toEqual(HELD_OUT_SET.map((h) => h.scene));
    for (const { scene, pairs: list } of pairs) {
      for (const p of list) {
        expect(judgeSentence(scene, p.truth).verdict).toBe('correct');
        const judged = judgeSentence(scene, p.falsehood);
        expect(judged.verdict).toBe('hallucinated');
        if (SAME_SENTENCE_KINDS.includes(p.kind)) expect(judged).toMatchObject({ kind: p.kind });
      }
    }
    expect(madeFalse(HELD_OUT_SET[0].scene, 'background', new Prng(1)).falsehood).toMatch(/^The background is (white|black)\.$/);
  });

  it('is a CLIPModel for 64×64 scenes whose tokenizer reads each word of the caption language as one token', () => {
    expect(config.architectures).toEqual(['CLIPModel']);
    expect(config.vision_config.image_size).toBe(64);
    for (const s of languageSentences()) {
      const { ids, truncated } = scorer.textIds(s);
      expect(truncated).toBe(false);
      // start, the words, the full stop, end
      expect({ s, tokens: ids.length }).toEqual({ s, tokens: s.split(' ').length + 3 });
    }
  });

  it("trains on pixels equal to transformers.js' CLIPImageProcessor output for the world's pictures", async () => {
    const processor = (scorer as unknown as { imageProcessor: (i: RawImage) => Promise<{ pixel_values: Tensor }> }).imageProcessor;
    for (const { scene, seed } of HELD_OUT_SET.slice(0, 3)) {
      const img = renderScene(scene, seed);
      const { pixel_values } = await processor(new RawImage(img.data, img.width, img.height, img.channels));
      expect(pixel_values.dims).toEqual([1, 3, 64, 64]);
      const ours = scenePixels(img.data, 64);
      const theirs = pixel_values.data as Float32Array;
      let worst = 0;
      ours.forEach((v, i) => (worst = Math.max(worst, Math.abs(v - theirs[i]))));
      expect(worst).toBeLessThan(1e-5);
    }
  });

  it('training is deterministic from the seed, and another seed trains other weights', async () => {
    const run = async (seed: number) => (await trainSandboxClip({ seed, steps: 2, batch: 4, lr: 1e-3, warmup: 1 })).model.files['model.safetensors'] as Uint8Array;
    const a = await run(5);
    expect(Buffer.compare(Buffer.from(a), Buffer.from(await run(5)))).toBe(0);
    expect(Buffer.compare(Buffer.from(a), Buffer.from(await run(6)))).not.toBe(0);
  });
});
