import { beforeEach, describe, expect, it, vi } from 'vitest';
import { storage } from '../../../tests/setup/memoryStorage';
import { describeScene, DESCRIBE_PROMPT } from '../../sandbox/captions';
import { judgeDescription } from '../../sandbox/judge';
import { sceneKey, validateScene } from '../../sandbox/scene';
import { HELD_OUT_SET } from '../../sandbox/splits';
import { DEFAULT_ASPO_SETTINGS } from '../../aspo';
import { EMPTY_BOOK } from '../../data/sentenceNumbers';
import { computeInspect } from './compute';
import { DEFAULT_PICKER, pickerSelection, sceneFromDraft, sceneFromSeed, scenePair, sceneSummary, type ScenePicker } from './sandboxScene';

const hand = (draft: ScenePicker['draft'], handSeed = 3): ScenePicker => ({ ...DEFAULT_PICKER, mode: 'hand', draft, handSeed });

describe('the sandbox scene picker', () => {
  it('picks the same scene and render seed for the same seed, scenes of the world for every seed, and many of them', () => {
    expect(sceneFromSeed(42)).toEqual(sceneFromSeed(42));
    const picks = Array.from({ length: 200 }, (_, s) => sceneFromSeed(s));
    for (const p of picks) expect(validateScene(p.scene)).toEqual(p.scene);
    expect(new Set(picks.map((p) => sceneKey(p.scene))).size).toBeGreaterThan(150);
    expect(new Set(picks.map((p) => p.seed)).size).toBe(200);
    expect(picks.some((p) => p.scene.groups.length === 1)).toBe(true);
    expect(pickerSelection({ ...DEFAULT_PICKER, mode: 'random', randomSeed: 42 })).toEqual({ selection: sceneFromSeed(42) });
    expect(sceneFromSeed(42).origin).toBe('random scene, seed 42');
  });

  it('gives a hand-set scene its sides from the number of groups', () => {
    const one = sceneFromDraft({ background: 'black', groups: [{ count: 3, colour: 'green', shape: 'square' }] });
    expect(one).toEqual({ background: 'black', groups: [{ count: 3, colour: 'green', shape: 'square', side: 'center' }] });
    const two = pickerSelection(hand({ background: 'white', groups: [{ count: 1, colour: 'red', shape: 'circle' }, { count: 2, colour: 'red', shape: 'square' }] }));
    expect(two).toEqual({
      selection: {
        scene: { background: 'white', groups: [{ count: 1, colour: 'red', shape: 'circle', side: 'left' }, { count: 2, colour: 'red', shape: 'square', side: 'right' }] },
        seed: 3,
        origin: 'set by hand, render seed 3',
      },
    });
  });

  it("refuses a hand-set scene that is not the world's with validateScene's message", () => {
    const same = pickerSelection(hand({ background: 'white', groups: [{ count: 1, colour: 'blue', shape: 'circle' }, { count: 3, colour: 'blue', shape: 'circle' }] }));
    expect(same).toEqual({ error: "This scene is not one of the world's: groups[0] and groups[1] are both blue circles; the two groups must differ in shape or colour." });
    const three = pickerSelection(hand({ background: 'white', groups: [1, 2, 3].map(() => ({ count: 1, colour: 'red', shape: 'circle' }) as const) }));
    expect(three).toEqual({ error: expect.stringContaining('must be an array of one or two groups, got 3 groups') });
  });

  it('takes a held-out scene with its render seed and the reason it is held out', () => {
    for (const i of [0, 1, 2, 119]) {
      const { selection } = pickerSelection({ ...DEFAULT_PICKER, mode: 'held-out', heldOutIndex: i }) as { selection: { scene: unknown; seed: number; heldOutReason: string } };
      expect(selection).toMatchObject({ scene: HELD_OUT_SET[i].scene, seed: HELD_OUT_SET[i].seed, heldOutReason: HELD_OUT_SET[i].reason });
    }
    expect(pickerSelection({ ...DEFAULT_PICKER, mode: 'held-out', heldOutIndex: 120 })).toEqual({ error: 'held-out scene 121 does not exist; there are 120' });
  });

  it('offers the correct description as chosen and one with exactly one hallucinated sentence, seeded, as rejected', () => {
    for (let s = 0; s < 40; s++) {
      const { scene } = sceneFromSeed(s);
      const pair = scenePair(scene, s);
      expect(pair).toEqual(scenePair(scene, s));
      expect(pair.prompt).toBe(DESCRIBE_PROMPT);
      expect(pair.chosen).toBe(describeScene(scene));
      expect(judgeDescription(scene, pair.chosen).hallucinated).toBe(0);
      const judged = judgeDescription(scene, pair.rejected);
      expect(judged.unparsed).toBe(0);
      expect(judged.sentences.filter((x) => x.verdict === 'hallucinated').map((x) => x.verdict === 'hallucinated' && x.kind)).toEqual([pair.corruption]);
    }
  });

  it('summarises a scene left to right', () => {
    const scene = sceneFromDraft({ background: 'black', groups: [{ count: 2, colour: 'red', shape: 'circle' }, { count: 1, colour: 'blue', shape: 'square' }] });
    expect(sceneSummary(scene)).toBe('2 red circles left, 1 blue square right; black');
  });
});

describe("the Inspect tab's rows with a sandbox scene", () => {
  it("carry the judge's verdict on each sentence of both responses, and none for another image", () => {
    const scene = sceneFromDraft({ background: 'white', groups: [{ count: 2, colour: 'red', shape: 'circle' }, { count: 1, colour: 'blue', shape: 'square' }] });
    const chosen = 'There are two red circles. The red circles are on the right. There is a dog.';
    const rejected = 'There are three blue squares.  The backdrop is white. The background is black.';
    const input = { chosen, rejected, book: EMPTY_BOOK, pair: { prompt: DESCRIBE_PROMPT, image: 'x' }, ...DEFAULT_ASPO_SETTINGS };
    const view = computeInspect({ ...input, scene });
    expect(view.chosen.map((r) => r.verdict)).toEqual(judgeDescription(scene, chosen).sentences.map(({ text: _t, start: _s, end: _e, ...v }) => v));
    expect(view.chosen.map((r) => (r.verdict?.verdict === 'hallucinated' ? r.verdict.kind : r.verdict?.verdict))).toEqual(['correct', 'side', 'absent-object']);
    expect(view.rejected.map((r) => (r.verdict?.verdict === 'hallucinated' ? r.verdict.kind : r.verdict?.verdict))).toEqual(['count', 'unparsed', 'background']);
    expect(computeInspect({ ...input, scene: null }).chosen.every((r) => r.verdict === undefined)).toBe(true);
  });
});

describe('the Inspect store with a sandbox scene', () => {
  beforeEach(() => storage.clear());
  const freshStore = async () => {
    vi.resetModules();
    return (await import('../inspectStore')).useInspect;
  };

  it("fills the pair from the scene, keeps picker and scene across a reload, and forgets the scene for another image", async () => {
    const store = await freshStore();
    expect(store.getState().sandbox).toBeNull();
    store.getState().fillFromScene();
    expect(store.getState().chosen).not.toBe(describeScene(sceneFromSeed(9).scene));

    store.getState().setScenePicker({ randomSeed: 9, corruptionSeed: 4 });
    const { selection } = pickerSelection(store.getState().scenePicker) as { selection: ReturnType<typeof sceneFromSeed> };
    store.getState().showScene(selection, { dataUrl: 'data:image/png;base64,AAAA', name: 'scene' });
    store.getState().fillFromScene();
    const pair = scenePair(selection.scene, 4);
    expect(store.getState()).toMatchObject({ prompt: pair.prompt, chosen: pair.chosen, rejected: pair.rejected });

    const reloaded = await freshStore();
    expect(reloaded.getState().scenePicker).toEqual({ ...DEFAULT_PICKER, randomSeed: 9, corruptionSeed: 4 });
    expect(reloaded.getState().sandbox).toEqual(selection);
    expect(reloaded.getState().image?.dataUrl).toBe('data:image/png;base64,AAAA');
    reloaded.getState().setImage({ dataUrl: 'data:image/png;base64,BBBB', name: 'photo.png' });
    expect(reloaded.getState().sandbox).toBeNull();
  });
});
