/**
 * Training data for the sandbox's SFT (issue 12, item 2), with the noise of machine-generated captions: a set
 * share of the descriptions (`NOISE_SHARE`, default 0.15) has exactly one sentence corrupted, as the paper says
 * such data has; the answers to questions are always right.
 *
 * A corrupted description is the correct one (`descriptionSentences`) with one change, of a kind drawn uniformly
 * among those the scene allows:
 * - `colour`: a group's count sentence names a colour no group has;
 * - `shape`: a group's count sentence names a shape no other group has (so the judge cannot read it as another
 *   group's wrong colour);
 * - `count`: a group's count sentence names another count;
 * - `side` (two groups only): a group's side sentence names the other side;
 * - `absent-object`: `There is a <dog|cat|…>.` is inserted at a random place (the true sentences all stay).
 * The judge (`judge.ts`) finds exactly that sentence hallucinated, of that kind; the tests check it.
 *
 * Each scene gives three examples, in this order: `Describe the picture.` (the description, corrupted or not), a
 * yes/no question (yes for even scene indices, about one of its groups; no for odd ones, about a colour–shape pair
 * it does not hold), and a how-many question (about one of its groups, or one time in four about a pair it does not
 * hold: `Zero.`). Scenes come from the training split (`sampleTrainingScene`). Everything follows from the seed.
 *
 * Pure TS: no DOM, no Node.
 */
import { settingProblem, type NumberSetting } from '../aspo/settings';
import { Prng } from '../models/prng';
import {
  ABSENT_OBJECTS,
  absentSentence,
  countAnswer,
  countQuestion,
  countSentence,
  DESCRIBE_PROMPT,
  descriptionSentences,
  existsQuestion,
  shapesOf,
  sideSentence,
  yesNoAnswer,
} from './captions';
import type { HallucinationKind } from './judge';
import { COLOURS, COUNTS, groupsInOrder, SHAPES, type Group, type Scene } from './scene';
import { sampleTrainingScene } from './splits';

/** The share of descriptions with one corrupted sentence. */
export const NOISE_SHARE = {
  kind: 'number',
  name: 'noiseShare',
  label: 'Share of corrupted descriptions',
  default: 0.15,
  min: 0,
  max: 1,
  step: 0.01,
} as const satisfies NumberSetting;

export const CORRUPTION_KINDS = ['colour', 'shape', 'count', 'side', 'absent-object'] as const satisfies readonly HallucinationKind[];
export type CorruptionKind = (typeof CORRUPTION_KINDS)[number];

export interface Corruption {
  kind: CorruptionKind;
  /** index of the corrupted sentence in the description */
  sentence: number;
  /** the correct sentence it replaced; null for an inserted absent object */
  replaced: string | null;
}

export type SftTask = 'describe' | 'exists' | 'count';

export interface SftExample {
  task: SftTask;
  scene: Scene;
  /** the render seed of the scene's picture */
  seed: number;
  prompt: string;
  answer: string;
  /** present on corrupted descriptions only */
  corruption?: Corruption;
}

export interface SftOptions {
  /** how many scenes; each gives three examples */
  scenes: number;
  seed: number;
  /** default `NOISE_SHARE.default` */
  noiseShare?: number;
}

const pick = <T>(prng: Prng, items: readonly T[]): T => items[prng.int(items.length)];

/** The correct description of `scene` with one sentence corrupted, of `kind` (see the module comment). */
export function corruptDescription(scene: Scene, kind: CorruptionKind, prng: Prng): { sentences: string[]; corruption: Corruption } {
  const sentences = descriptionSentences(scene);
  if (kind === 'absent-object') {
    const at = prng.int(sentences.length + 1);
    sentences.splice(at, 0, absentSentence(pick(prng, ABSENT_OBJECTS)));
    return { sentences, corruption: { kind, sentence: at, replaced: null } };
  }
  if (kind === 'side' && scene.groups.length < 2) throw new RangeError('a side corruption needs a scene of two groups');
  const group = pick(prng, groupsInOrder(scene));
  const others = scene.groups.filter((g) => g !== group);
  let wrong: string;
  switch (kind) {
    case 'colour':
      wrong = countSentence({ ...group, colour: pick(prng, COLOURS.filter((c) => !scene.groups.some((g) => g.colour === c))) });
      break;
    case 'shape':
      wrong = countSentence({ ...group, shape: pick(prng, SHAPES.filter((s) => s !== group.shape && !others.some((g) => g.shape === s))) });
      break;
    case 'count':
      wrong = countSentence({ ...group, count: pick(prng, COUNTS.filter((n) => n !== group.count)) });
      break;
    case 'side':
      wrong = sideSentence(group, group.side === 'left' ? 'right' : 'left');
      break;
  }
  const original = kind === 'side' ? sideSentence(group, group.side as 'left' | 'right') : countSentence(group);
  const at = sentences.indexOf(original);
  sentences[at] = wrong;
  return { sentences, corruption: { kind, sentence: at, replaced: original } };
}

/** The kinds of corruption a scene allows: a side only where there are two sides. */
export const corruptionKindsFor = (scene: Scene): CorruptionKind[] => CORRUPTION_KINDS.filter((k) => k !== 'side' || scene.groups.length === 2);

function questions(scene: Scene, index: number, prng: Prng): { task: SftTask; prompt: string; answer: string }[] {
  const kinds = COLOURS.flatMap((colour) => SHAPES.map((shape) => ({ colour, shape })));
  const absent = kinds.filter(({ colour, shape }) => shapesOf(scene, colour, shape) === 0);
  const present = (g: Group) => ({ colour: g.colour, shape: g.shape });
  const yesNo = index % 2 === 0 ? present(pick(prng, scene.groups)) : pick(prng, absent);
  const howMany = prng.int(4) === 0 ? pick(prng, absent) : present(pick(prng, scene.groups));
  return [
    { task: 'exists', prompt: existsQuestion(yesNo.colour, yesNo.shape), answer: yesNoAnswer(shapesOf(scene, yesNo.colour, yesNo.shape) > 0) },
    { task: 'count', prompt: countQuestion(howMany.colour, howMany.shape), answer: countAnswer(shapesOf(scene, howMany.colour, howMany.shape)) },
  ];
}

/** The SFT examples (see the module comment): exactly round(noiseShare × scenes) descriptions are corrupted. */
export function sftExamples(options: SftOptions): SftExample[] {
  const { scenes, seed, noiseShare = NOISE_SHARE.default } = options;
  const problem = settingProblem(NOISE_SHARE, noiseShare);
  if (problem) throw new RangeError(problem);
  if (!Number.isSafeInteger(scenes) || scenes < 0) throw new RangeError(`scenes must be a non-negative integer, got ${scenes}`);
  const prng = new Prng(seed);
  const order = Array.from({ length: scenes }, (_, i) => i);
  for (let i = scenes - 1; i > 0; i--) {
    const j = prng.int(i + 1);
    [order[i], order[j]] = [order[j], order[i]];
  }
  const corrupted = new Set(order.slice(0, Math.round(noiseShare * scenes)));
  return Array.from({ length: scenes }, (_, i): SftExample[] => {
    const scene = sampleTrainingScene(prng);
    const renderSeed = prng.int(2 ** 32);
    const base = { scene, seed: renderSeed };
    let describe: SftExample;
    if (corrupted.has(i)) {
      const { sentences, corruption } = corruptDescription(scene, pick(prng, corruptionKindsFor(scene)), prng);
      describe = { task: 'describe', ...base, prompt: DESCRIBE_PROMPT, answer: sentences.join(' '), corruption };
    } else {
      describe = { task: 'describe', ...base, prompt: DESCRIBE_PROMPT, answer: descriptionSentences(scene).join(' ') };
    }
    return [describe, ...questions(scene, i, prng).map((q) => ({ ...base, ...q }))];
  }).flat();
}
