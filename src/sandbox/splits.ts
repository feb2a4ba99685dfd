/**
 * The sandbox's training and held-out splits (issue 12, "Splits"): every evaluation runs on `HELD_OUT_SET`, a
 * fixed list of scenes whose combinations no training example shows. docs/sandbox.md says the same in prose.
 *
 * The world has 2,448 scenes (before the seed places the shapes): 72 of one group (3 counts × 4 colours × 3 shapes
 * × 2 backgrounds) and 2,376 of two (36 left groups × 33 right groups that differ from it in shape or colour × 2
 * backgrounds). A scene is held out when one of these rules holds, tried in this order (the first that holds is its
 * `heldOutReason`):
 * - `pair`: a group is a green triangle or a yellow circle (colour–shape pairs seen only here; each colour and each
 *   shape is seen in training with others);
 * - `count`: a group is three blue squares or one red triangle (the pairs are seen in training, with other counts);
 * - `pairing`: the two groups are red circles and blue squares, or green squares and yellow triangles (each group is
 *   seen in training, never these two together; any counts, either side).
 * Every other scene is a training scene.
 *
 * `HELD_OUT_SET` takes 40 scenes of each rule: 8 of one group and 32 of two for `pair`, the 4 of one group there
 * are and 36 of two for `count`, 40 of two for `pairing` (no one-group scene has two groups); each is drawn from
 * its rule's scenes with `Prng(HELD_OUT_SEED)`, and each gets a render seed from the same generator. The list runs
 * through the rules in turn (pair, count, pairing, pair, …), so that its first N scenes mix all three.
 *
 * Pure TS: no DOM, no Node.
 */
import { Prng } from '../models/prng';
import { BACKGROUNDS, COLOURS, COUNTS, SHAPES, type Colour, type Count, type Group, type Scene, type Shape } from './scene';

export type HeldOutReason = 'pair' | 'count' | 'pairing';

interface Kind {
  colour: Colour;
  shape: Shape;
}

export const HELD_OUT_PAIRS: readonly Kind[] = [
  { colour: 'green', shape: 'triangle' },
  { colour: 'yellow', shape: 'circle' },
];
export const HELD_OUT_COUNTS: readonly (Kind & { count: Count })[] = [
  { count: 3, colour: 'blue', shape: 'square' },
  { count: 1, colour: 'red', shape: 'triangle' },
];
export const HELD_OUT_PAIRINGS: readonly (readonly [Kind, Kind])[] = [
  [{ colour: 'red', shape: 'circle' }, { colour: 'blue', shape: 'square' }],
  [{ colour: 'green', shape: 'square' }, { colour: 'yellow', shape: 'triangle' }],
];

export const HELD_OUT_SEED = 20250525;
/** Scenes of `HELD_OUT_SET` per rule: [one group, two groups]. */
const PER_RULE: Record<HeldOutReason, readonly [number, number]> = { pair: [8, 32], count: [4, 36], pairing: [0, 40] };
/** The share of one-group scenes among the training scenes `sampleTrainingScene` draws. */
export const ONE_GROUP_SHARE = 1 / 3;

const same = (g: Kind, k: Kind) => g.colour === k.colour && g.shape === k.shape;

export function heldOutReason(scene: Scene): HeldOutReason | null {
  const { groups } = scene;
  if (groups.some((g) => HELD_OUT_PAIRS.some((k) => same(g, k)))) return 'pair';
  if (groups.some((g) => HELD_OUT_COUNTS.some((k) => same(g, k) && g.count === k.count))) return 'count';
  if (groups.length === 2 && HELD_OUT_PAIRINGS.some(([a, b]) => (same(groups[0], a) && same(groups[1], b)) || (same(groups[0], b) && same(groups[1], a)))) {
    return 'pairing';
  }
  return null;
}

const KINDS: readonly Kind[] = COLOURS.flatMap((colour) => SHAPES.map((shape) => ({ colour, shape })));
const GROUPS: readonly Omit<Group, 'side'>[] = COUNTS.flatMap((count) => KINDS.map((k) => ({ count, ...k })));

/** Every scene of the world once, in a fixed order: one-group scenes first, then two-group scenes. */
export function allScenes(): Scene[] {
  const scenes: Scene[] = [];
  for (const background of BACKGROUNDS) for (const g of GROUPS) scenes.push({ background, groups: [{ ...g, side: 'center' }] });
  for (const background of BACKGROUNDS) {
    for (const left of GROUPS) {
      for (const right of GROUPS) {
        if (!same(left, right)) scenes.push({ background, groups: [{ ...left, side: 'left' }, { ...right, side: 'right' }] });
      }
    }
  }
  return scenes;
}

const ALL = allScenes();
const TRAINING: readonly [Scene[], Scene[]] = [
  ALL.filter((s) => s.groups.length === 1 && heldOutReason(s) === null),
  ALL.filter((s) => s.groups.length === 2 && heldOutReason(s) === null),
];

/** A training scene: one group with probability `ONE_GROUP_SHARE`, then uniform among the training scenes of that size. */
export function sampleTrainingScene(prng: Prng): Scene {
  const pool = TRAINING[prng.next() < ONE_GROUP_SHARE ? 0 : 1];
  const { background, groups } = pool[prng.int(pool.length)];
  return { background, groups: groups.map((g) => ({ ...g })) };
}

/** Training scenes of one and of two groups: how many there are. */
export const TRAINING_SCENE_COUNTS = { oneGroup: TRAINING[0].length, twoGroups: TRAINING[1].length } as const;

export interface HeldOutScene {
  scene: Scene;
  /** the render seed */
  seed: number;
  reason: HeldOutReason;
}

function drawHeldOut(): HeldOutScene[] {
  const prng = new Prng(HELD_OUT_SEED);
  const draw = (pool: Scene[], n: number) => {
    const left = [...pool];
    return Array.from({ length: n }, () => left.splice(prng.int(left.length), 1)[0]);
  };
  const rules = Object.keys(PER_RULE) as HeldOutReason[];
  const perRule = rules.map((reason) => {
    const [one, two] = PER_RULE[reason];
    const pool = ALL.filter((s) => heldOutReason(s) === reason);
    const picked = [...draw(pool.filter((s) => s.groups.length === 1), one), ...draw(pool.filter((s) => s.groups.length === 2), two)];
    return draw(picked, picked.length).map((scene) => ({ scene, seed: prng.int(2 ** 32), reason }));
  });
  return perRule[0].flatMap((_, i) => perRule.map((list) => list[i]));
}

/** The fixed held-out scenes of every evaluation, each with its render seed (see the module comment). */
export const HELD_OUT_SET: readonly HeldOutScene[] = drawHeldOut();
