/**
 * The Inspect tab's sandbox scene picker (issue 12, item 5): a scene drawn from the world with a seed, set by
 * hand, or one of the held-out scenes; and the two responses it offers, the correct description and one with a
 * sentence corrupted. Everything follows from the picker's fields, so a scene shown once can be shown again.
 */
import { Prng } from '../../models/prng';
import { describeScene, DESCRIBE_PROMPT } from '../../sandbox/captions';
import { corruptDescription, corruptionKindsFor, type CorruptionKind } from '../../sandbox/noise';
import { groupsInOrder, SceneError, validateScene, type Background, type Colour, type Count, type Scene, type Shape } from '../../sandbox/scene';
import { allScenes, HELD_OUT_SET, type HeldOutReason } from '../../sandbox/splits';

export type PickMode = 'random' | 'hand' | 'held-out';

/** A group as the user sets it: its side follows from how many groups there are. */
export interface GroupDraft {
  count: Count;
  colour: Colour;
  shape: Shape;
}

export interface SceneDraft {
  background: Background;
  /** one group (in the centre) or two (the first on the left, the second on the right) */
  groups: GroupDraft[];
}

export interface ScenePicker {
  mode: PickMode;
  /** the seed of a random scene: it picks the scene and draws it */
  randomSeed: number;
  draft: SceneDraft;
  /** the render seed of a scene set by hand */
  handSeed: number;
  /** which of HELD_OUT_SET */
  heldOutIndex: number;
  /** the seed of the corrupted description offered as the rejected response */
  corruptionSeed: number;
}

/** The scene shown and scored, with the seed that drew it and how it was picked, in words. */
export interface SandboxSelection {
  scene: Scene;
  seed: number;
  origin: string;
  heldOutReason?: HeldOutReason;
}

/** Seeds are what `Prng` takes without loss and what a user can type: whole numbers in [0, 2³²). */
export const SEED_RANGE = { min: 0, max: 2 ** 32 - 1 } as const;

export const DEFAULT_PICKER: ScenePicker = {
  mode: 'random',
  randomSeed: 1,
  draft: {
    background: 'white',
    groups: [
      { count: 2, colour: 'red', shape: 'circle' },
      { count: 1, colour: 'blue', shape: 'triangle' },
    ],
  },
  handSeed: 0,
  heldOutIndex: 0,
  corruptionSeed: 1,
};

/** Why each rule holds a scene out of training, in words (src/sandbox/splits.ts says it in full). */
export const HELD_OUT_REASON_WORDS: Record<HeldOutReason, string> = {
  pair: 'a colour–shape pair never seen in training',
  count: 'a count of this colour and shape never seen in training',
  pairing: 'two groups never seen together in training',
};

const WORLD = allScenes();

/** The scene a seed picks from the whole world (uniformly), drawn with a render seed from the same generator. */
export function sceneFromSeed(seed: number): SandboxSelection {
  const prng = new Prng(seed);
  const { background, groups } = WORLD[prng.int(WORLD.length)];
  return { scene: { background, groups: groups.map((g) => ({ ...g })) }, seed: prng.int(2 ** 32), origin: `random scene, seed ${seed}` };
}

/** The scene a draft stands for, sides assigned; a SceneError (validateScene's message) when it is not one of the world's. */
export function sceneFromDraft(draft: SceneDraft): Scene {
  const sides = draft.groups.length === 1 ? (['center'] as const) : (['left', 'right'] as const);
  return validateScene({ background: draft.background, groups: draft.groups.map((g, i) => ({ ...g, side: sides[i] ?? 'center' })) });
}

/** The picker's scene, or the message that says why its hand-set scene is not one. */
export function pickerSelection(picker: ScenePicker): { selection: SandboxSelection } | { error: string } {
  if (picker.mode === 'random') return { selection: sceneFromSeed(picker.randomSeed) };
  if (picker.mode === 'held-out') {
    const held = HELD_OUT_SET[picker.heldOutIndex];
    if (!held) return { error: `held-out scene ${picker.heldOutIndex + 1} does not exist; there are ${HELD_OUT_SET.length}` };
    return { selection: { scene: held.scene, seed: held.seed, origin: `held-out scene ${picker.heldOutIndex + 1} of ${HELD_OUT_SET.length}`, heldOutReason: held.reason } };
  }
  try {
    return { selection: { scene: sceneFromDraft(picker.draft), seed: picker.handSeed, origin: `set by hand, render seed ${picker.handSeed}` } };
  } catch (err) {
    if (err instanceof SceneError) return { error: `This scene is not one of the world's: ${err.message}.` };
    throw err;
  }
}

/** The pair a scene offers: its correct description as chosen, the same with one sentence corrupted (kind drawn from `seed`) as rejected. */
export function scenePair(scene: Scene, seed: number): { prompt: string; chosen: string; rejected: string; corruption: CorruptionKind } {
  const prng = new Prng(seed);
  const kinds = corruptionKindsFor(scene);
  const kind = kinds[prng.int(kinds.length)];
  return { prompt: DESCRIBE_PROMPT, chosen: describeScene(scene), rejected: corruptDescription(scene, kind, prng).sentences.join(' '), corruption: kind };
}

/** A scene in a few words, groups left to right: `2 red circles left, 1 blue square right; white`. */
export function sceneSummary(scene: Scene): string {
  const groups = groupsInOrder(scene).map((g) => `${g.count} ${g.colour} ${g.shape}${g.count > 1 ? 's' : ''}${g.side === 'center' ? '' : ` ${g.side}`}`);
  return `${groups.join(', ')}; ${scene.background}`;
}
