/**
 * The (image, sentence) material of the sandbox CLIP (issue 12, item 4): the caption language its tokenizer
 * covers, a true sentence of a scene and the same sentence made false, and the held-out evaluation: on every scene
 * of `HELD_OUT_SET`, `S_i` (the scorer's cosine, `clipSimilarity`, Eq. 6) of a true sentence against `S_i` of the
 * same sentence made false, in each way the world allows:
 * - `colour`, `shape`, `count`: a group's count sentence with another colour, shape or count (`corruptDescription`
 *   of src/sandbox/noise.ts, the very corruptions of the noisy SFT data);
 * - `side` (two groups): a group's side sentence with the other side (`corruptDescription`);
 * - `background`: the background sentence with the other background.
 * An absent object (`There is a dog.`) is not a sentence made false; its pairs (against a true sentence of the
 * scene) are counted apart.
 */
import { RawImage } from '@huggingface/transformers';
import type { ClipScorer } from '../../src/models/clip';
import { Prng } from '../../src/models/prng';
import {
  ABSENT_OBJECTS,
  absentSentence,
  backgroundSentence,
  countSentence,
  descriptionSentences,
  sideSentence,
} from '../../src/sandbox/captions';
import { corruptDescription, corruptionKindsFor, type CorruptionKind } from '../../src/sandbox/noise';
import { auroc } from '../../src/sandbox/auroc';
import { renderScene } from '../../src/sandbox/render';
import { BACKGROUNDS, COLOURS, COUNTS, SHAPES, type Scene } from '../../src/sandbox/scene';
import { HELD_OUT_SET, sampleTrainingScene } from '../../src/sandbox/splits';

export type FalseKind = CorruptionKind | 'background';

export interface SentencePair {
  kind: FalseKind;
  truth: string;
  falsehood: string;
}

/** Every sentence of the caption language once: what the sandbox CLIP's tokenizer is learnt from. */
export function languageSentences(): string[] {
  const out: string[] = [];
  for (const colour of COLOURS) {
    for (const shape of SHAPES) {
      for (const count of COUNTS) {
        out.push(countSentence({ count, colour, shape }));
        for (const side of ['left', 'right'] as const) out.push(sideSentence({ count, colour, shape }, side));
      }
    }
  }
  for (const b of BACKGROUNDS) out.push(backgroundSentence(b));
  for (const o of ABSENT_OBJECTS) out.push(absentSentence(o));
  return [...new Set(out)];
}

/** The kinds of false sentence a scene allows: its corruptions, and its background. */
export const falseKindsFor = (scene: Scene): FalseKind[] => [...corruptionKindsFor(scene), 'background'];

/** A true sentence of `scene` and the sentence made false in the way `kind` says (see the module comment). */
export function madeFalse(scene: Scene, kind: FalseKind, prng: Prng): SentencePair {
  if (kind === 'background') {
    const other = BACKGROUNDS.find((b) => b !== scene.background)!;
    return { kind, truth: backgroundSentence(scene.background), falsehood: backgroundSentence(other) };
  }
  const { sentences, corruption } = corruptDescription(scene, kind, prng);
  const facts = descriptionSentences(scene);
  return { kind, truth: corruption.replaced ?? facts[prng.int(facts.length)], falsehood: sentences[corruption.sentence] };
}

export const CLIP_EVAL_SEED = 12;
/** The kinds counted in the held-out share: a true sentence against the same sentence made false. */
export const SAME_SENTENCE_KINDS: readonly FalseKind[] = ['colour', 'shape', 'count', 'side', 'background'];

export interface HeldOutPairs {
  scene: Scene;
  seed: number;
  pairs: SentencePair[];
}

/** One pair of each kind the scene allows, for every held-out scene; the same every time (`CLIP_EVAL_SEED`). */
export function heldOutPairs(): HeldOutPairs[] {
  const prng = new Prng(CLIP_EVAL_SEED);
  return HELD_OUT_SET.map(({ scene, seed }) => ({ scene, seed, pairs: falseKindsFor(scene).map((k) => madeFalse(scene, k, prng)) }));
}

export interface PairFigures {
  pairs: number;
  /** share of pairs where S_i(true) > S_i(false) */
  share: number;
  /** AUROC of S_i, true sentences against false ones, pooled over the scenes */
  auroc: number;
}

export interface ClipEvaluation {
  /** the kinds of SAME_SENTENCE_KINDS together */
  sameSentence: PairFigures;
  byKind: Record<FalseKind, PairFigures>;
}

function figures(scored: { truth: number; falsehood: number }[]): PairFigures {
  return {
    pairs: scored.length,
    share: scored.filter((s) => s.truth > s.falsehood).length / scored.length,
    auroc: auroc(
      scored.map((s) => s.truth),
      scored.map((s) => s.falsehood),
    ),
  };
}

/**
 * `n` training scenes (`sampleTrainingScene`), each with a render seed and one pair of each kind it allows, drawn
 * from `seed`: the same figures on scenes of the training split, to tell a failure to learn from one to generalise.
 */
export function trainingScenePairs(n: number, seed: number): HeldOutPairs[] {
  const prng = new Prng(seed);
  return Array.from({ length: n }, () => {
    const scene = sampleTrainingScene(prng);
    return { scene, seed: prng.int(2 ** 32), pairs: falseKindsFor(scene).map((k) => madeFalse(scene, k, prng)) };
  });
}

/** The held-out figures of a CLIP scorer: each scene rendered with its seed, its sentences scored in one call. */
export async function evaluateClip(scorer: ClipScorer, scenes: HeldOutPairs[] = heldOutPairs()): Promise<ClipEvaluation> {
  const scored: { kind: FalseKind; truth: number; falsehood: number }[] = [];
  for (const { scene, seed, pairs } of scenes) {
    const img = renderScene(scene, seed);
    const image = new RawImage(img.data, img.width, img.height, img.channels);
    const s = await scorer.similarity(
      image,
      pairs.flatMap((p) => [p.truth, p.falsehood]),
    );
    pairs.forEach((p, i) => scored.push({ kind: p.kind, truth: s[2 * i].similarity, falsehood: s[2 * i + 1].similarity }));
  }
  const kinds: FalseKind[] = [...SAME_SENTENCE_KINDS, 'absent-object'];
  return {
    sameSentence: figures(scored.filter((s) => SAME_SENTENCE_KINDS.includes(s.kind))),
    byKind: Object.fromEntries(kinds.map((k) => [k, figures(scored.filter((s) => s.kind === k))])) as Record<FalseKind, PairFigures>,
  };
}
