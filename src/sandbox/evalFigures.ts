/**
 * The sandbox evaluation's figures beyond the judge's (issue 12, items 5 and 6), from answers and scores already
 * computed: how-many accuracy, and how well a per-sentence score separates correct from hallucinated sentences
 * (AUROC). The evaluation itself, which runs the models, is src/state/sandbox/evaluate.ts.
 *
 * Pure TS: no DOM, no Node.
 */
import { auroc } from './auroc';
import { countQuestion, parseCountAnswer, shapesOf } from './captions';
import type { Probe } from './judge';
import type { Scene } from './scene';

export interface CountProbe {
  question: string;
  /** the right answer's number (0 for a pair the scene does not hold) */
  truth: number;
}

/** `How many <colour> <shape>s are there?` about the pairs of the scene's yes/no probes: each group's, and as many absent ones. */
export function countProbes(scene: Scene, probes: readonly Probe[]): CountProbe[] {
  return probes.map((p) => ({ question: countQuestion(p.colour, p.shape), truth: shapesOf(scene, p.colour, p.shape) }));
}

export interface CountMetrics {
  questions: number;
  /** answers naming the right number / questions; null with no question */
  accuracy: number | null;
  /** answers that are not exactly one of `Zero.` … `Three.` (wrong for accuracy) */
  unparsed: number;
}

export function countMetrics(answered: readonly { truth: number; answer: string }[]): CountMetrics {
  const read = answered.map((a) => parseCountAnswer(a.answer));
  return {
    questions: answered.length,
    accuracy: answered.length === 0 ? null : answered.filter((a, i) => read[i] === a.truth).length / answered.length,
    unparsed: read.filter((n) => n === null).length,
  };
}

/** One judged sentence with ASPO's per-sentence numbers, as the Inspect tab computes them. */
export interface SeparationSentence {
  verdict: 'correct' | 'hallucinated' | 'unparsed';
  /** `Ŝ_i` */
  simNorm: number;
  /** `P̂_i` */
  pplNorm: number;
  /** `w_i` */
  weight: number;
}

export interface Separation {
  correct: number;
  hallucinated: number;
  /**
   * AUROC of each score with the correct sentences as positives: the chance that a correct sentence scores above a
   * hallucinated one (ties count one half); null when either class is empty.
   */
  simNorm: number | null;
  pplNorm: number | null;
  weight: number | null;
}

/** How well `Ŝ_i`, `P̂_i` and `w_i` separate correct from hallucinated sentences; unparsed sentences take no part. */
export function separation(sentences: readonly SeparationSentence[]): Separation {
  const correct = sentences.filter((s) => s.verdict === 'correct');
  const hallucinated = sentences.filter((s) => s.verdict === 'hallucinated');
  const area = (score: 'simNorm' | 'pplNorm' | 'weight') =>
    correct.length === 0 || hallucinated.length === 0 ? null : auroc(correct.map((s) => s[score]), hallucinated.map((s) => s[score]));
  return { correct: correct.length, hallucinated: hallucinated.length, simNorm: area('simNorm'), pplNorm: area('pplNorm'), weight: area('weight') };
}
