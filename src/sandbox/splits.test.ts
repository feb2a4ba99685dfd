import { describe, expect, it } from 'vitest';
import { Prng } from '../models/prng';
import { allScenes, HELD_OUT_SET, heldOutReason, sampleTrainingScene, TRAINING_SCENE_COUNTS } from './splits';
import { sceneKey, validateScene, type Scene } from './scene';

const s = (background: 'white' | 'black', ...groups: string[]): Scene => ({
  background,
  groups: groups.map((g) => {
    const [count, colour, shape, side] = g.split(' ');
    return { count: Number(count), colour, shape, side } as Scene['groups'][0];
  }),
});

/** FNV-1a (32 bits) of a string's UTF-16 code units: a fingerprint of the whole held-out list. */
function fnv1a(text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return (h >>> 0).toString(16).padStart(8, '0');
}
const HELD_OUT_FINGERPRINT = '3781bf07';

describe('the world and its splits', () => {
  it('has 2,448 distinct valid scenes: 72 of one group, 2,376 of two', () => {
    const all = allScenes();
    expect(all).toHaveLength(2448);
    expect(all.filter((x) => x.groups.length === 1)).toHaveLength(3 * 4 * 3 * 2);
    expect(new Set(all.map(sceneKey)).size).toBe(2448);
    for (const scene of all) expect(validateScene(scene)).toEqual(scene);
  });

  it('holds out by the documented rules, in order', () => {
    expect(heldOutReason(s('white', '2 green triangle center'))).toBe('pair');
    expect(heldOutReason(s('black', '1 red circle left', '3 yellow circle right'))).toBe('pair');
    expect(heldOutReason(s('white', '3 blue square left', '1 green triangle right'))).toBe('pair');
    expect(heldOutReason(s('white', '3 blue square center'))).toBe('count');
    expect(heldOutReason(s('black', '1 red triangle left', '2 green circle right'))).toBe('count');
    expect(heldOutReason(s('black', '3 blue square left', '2 red circle right'))).toBe('count');
    expect(heldOutReason(s('white', '2 red circle left', '1 blue square right'))).toBe('pairing');
    expect(heldOutReason(s('black', '2 yellow triangle left', '3 green square right'))).toBe('pairing');
    for (const scene of [
      s('white', '2 blue square center'),
      s('white', '2 red triangle center'),
      s('white', '2 red circle left', '1 blue triangle right'),
      s('black', '2 green square left', '1 yellow square right'),
      s('white', '1 green circle left', '2 yellow triangle right'),
    ]) {
      expect(heldOutReason(scene), sceneKey(scene)).toBeNull();
    }
  });

  it('leaves the training split the scenes counted by hand', () => {
    const reasons = new Map<string, number>();
    for (const scene of allScenes()) {
      const key = `${heldOutReason(scene)} ${scene.groups.length}`;
      reasons.set(key, (reasons.get(key) ?? 0) + 1);
    }
    // Groups without a held-out pair: 10 pairs × 3 counts = 30; two-group scenes of them: 30 × 27 (the other group
    // differs in pair) × 2 backgrounds = 1,620, so 2,376 − 1,620 = 756 hold a held-out pair (and 2 × 3 × 2 = 12 of one
    // group). Of the 1,620, (2 × 27 + 27 × 2 − 2) × 2 = 212 hold three blue squares or one red triangle (and 2 × 2
    // of one group). Pairings: 2 × 3 × 3 counts × 2 orders × 2 backgrounds = 72, less the 12 with three blue squares.
    expect(Object.fromEntries(reasons)).toEqual({ 'pair 1': 12, 'pair 2': 756, 'count 1': 4, 'count 2': 212, 'pairing 2': 60, 'null 1': 56, 'null 2': 1348 });
    expect(TRAINING_SCENE_COUNTS).toEqual({ oneGroup: 56, twoGroups: 1348 });
  });

  it('samples training scenes only, about a third of one group, every colour, shape, count and background among them', () => {
    const prng = new Prng(5);
    const seen = new Set<string>();
    let one = 0;
    for (let i = 0; i < 3000; i++) {
      const scene = sampleTrainingScene(prng);
      expect(heldOutReason(scene), sceneKey(scene)).toBeNull();
      if (scene.groups.length === 1) one++;
      seen.add(scene.background);
      for (const g of scene.groups) for (const word of [String(g.count), g.colour, g.shape, `${g.colour} ${g.shape}`]) seen.add(word);
    }
    expect(one / 3000).toBeGreaterThan(0.3);
    expect(one / 3000).toBeLessThan(0.37);
    for (const word of ['1', '2', '3', 'red', 'green', 'blue', 'yellow', 'circle', 'square', 'triangle', 'white', 'black']) expect(seen.has(word), word).toBe(true);
    expect(seen.has('green triangle')).toBe(false);
    expect(seen.has('yellow circle')).toBe(false);
    expect(seen.has('green circle')).toBe(true);
  });

  it('fixes the held-out set: 40 scenes of each rule, in turn, each with its seed', () => {
    expect(HELD_OUT_SET).toHaveLength(120);
    expect(HELD_OUT_SET.slice(0, 6).map((h) => h.reason)).toEqual(['pair', 'count', 'pairing', 'pair', 'count', 'pairing']);
    for (const h of HELD_OUT_SET) expect(heldOutReason(h.scene)).toBe(h.reason);
    const oneGroup = (reason: string) => HELD_OUT_SET.filter((h) => h.reason === reason && h.scene.groups.length === 1).length;
    expect([oneGroup('pair'), oneGroup('count'), oneGroup('pairing')]).toEqual([8, 4, 0]);
    expect(new Set(HELD_OUT_SET.map((h) => sceneKey(h.scene))).size).toBe(120);
    // Pinned: a change here changes every evaluation's scenes.
    expect(HELD_OUT_SET.slice(0, 3).map((h) => `${sceneKey(h.scene)} #${h.seed}`)).toEqual([
      'white|1 yellow circle left|2 green triangle right #3835489786',
      'black|1 red triangle center #3330075450',
      'black|1 yellow triangle left|1 green square right #4098311451',
    ]);
    expect(fnv1a(HELD_OUT_SET.map((h) => `${sceneKey(h.scene)} #${h.seed}`).join('\n'))).toBe(HELD_OUT_FINGERPRINT);
  });
});
