/**
 * The hallucination judge (issue 12, item 1): exact verdicts on the sandbox's language against a scene's ground
 * truth, and the CHAIR- and POPE-style figures built on them.
 *
 * A text is split with our splitter (`splitSentences`); each sentence is read with `parseSentence` (exact forms,
 * case and spacing rules in `captions.ts`) and is then:
 * - `unparsed` when it is not exactly one of the forms;
 * - `correct` when its claim holds in the scene;
 * - `hallucinated`, with one kind, when it does not. The kind says what is wrong, in this order:
 *   - `background`: a background sentence naming the other background.
 *   - `absent-object`: `There is a dog.` (and the other objects: never in this world); and a count or side
 *     sentence whose colour and shape both match no group (`There are two red squares.` with nothing red and no
 *     square): the object it names is not there in any colour or shape.
 *   - `colour` / `shape`: a count or side sentence whose colour–shape pair is no group's, but which shares its
 *     shape (→ `colour`) or its colour (→ `shape`) with a group. When one group shares the shape and another the
 *     colour, the sentence is taken to be about the group that also matches its count (count sentences) or its
 *     side, then its number (side sentences); when that does not decide, `colour`.
 *     So `There are two red squares.` with two red circles and one blue square is `shape`; with one red circle
 *     and two blue squares, `colour`.
 *   - `side`: a side sentence about a group that is on the other side, or in the centre (one group: a side
 *     sentence is only true of a scene of two).
 *   - `count`: a count sentence with the wrong count for its group (`There are two red squares.` with one red
 *     square), or a side sentence whose number disagrees with its group (`The red circle is on the left.` when
 *     the two red circles are on the left).
 *
 * The scene's facts are the sentences of its correct description (`descriptionSentences`): each group's count
 * sentence, each group's side sentence when there are two groups, the background sentence; a fact is stated when a
 * sentence of the text is judged correct and says it.
 *
 * Figures over a set of descriptions (pooled: each sentence, claim or fact counts once, whatever its description):
 * - `chairS`: the share of descriptions with at least one hallucinated sentence;
 * - `chairI`: hallucinated sentences / claims, where the claims are the parsed sentences (correct + hallucinated);
 * - `recall`: stated facts / facts;
 * - `unparsed`: unparsed sentences / sentences.
 * A share whose denominator is 0 is null.
 *
 * Yes/no questions (POPE-style): `balancedProbes` asks about every group's colour–shape pair (answer yes) and as
 * many pairs that are not in the scene but share a colour or a shape with one that is (answer no: POPE's hardest,
 * "adversarial" negatives); `popeMetrics` scores the answers. An answer that is not exactly `Yes.` or `No.` counts
 * as neither: it is wrong for accuracy, no yes for precision, recall and the yes-ratio, and counted as unparsed.
 *
 * Pure TS: no DOM, no Node.
 */
import { splitSentences } from '../aspo/sentences';
import { Prng } from '../models/prng';
import { descriptionSentences, existsQuestion, parseSentence, parseYesNo, type Claim } from './captions';
import { COLOURS, SHAPES, type Colour, type Group, type Scene, type Shape } from './scene';

export const HALLUCINATION_KINDS = ['colour', 'shape', 'count', 'side', 'background', 'absent-object'] as const;
export type HallucinationKind = (typeof HALLUCINATION_KINDS)[number];

export type SentenceVerdict =
  | { verdict: 'correct'; claim: Claim }
  | { verdict: 'hallucinated'; kind: HallucinationKind; claim: Claim }
  | { verdict: 'unparsed' };

export type JudgedSentence = { text: string; start: number; end: number } & SentenceVerdict;

export interface DescriptionJudgement {
  sentences: JudgedSentence[];
  /** the scene's facts (the sentences of its correct description), each with whether the text states it */
  facts: { sentence: string; stated: boolean }[];
  correct: number;
  hallucinated: number;
  unparsed: number;
  /** hallucinated / (correct + hallucinated), null with no parsed sentence */
  chairI: number | null;
  /** stated facts / facts */
  recall: number;
  /** unparsed / sentences, null for a text without sentences */
  unparsedShare: number | null;
}

export interface DescriptionMetrics {
  descriptions: number;
  sentences: number;
  claims: number;
  chairS: number | null;
  chairI: number | null;
  recall: number | null;
  unparsed: number | null;
  /** how many hallucinated sentences of each kind */
  kinds: Record<HallucinationKind, number>;
}

const share = (part: number, whole: number) => (whole === 0 ? null : part / whole);

/**
 * The group a count or side sentence is about (the one of its colour and shape), or, when there is none, the kind
 * of its mistake: see the module comment. `affinity` scores how well a group fits the sentence's other words.
 */
function identify(scene: Scene, colour: Colour, shape: Shape, affinity: (g: Group) => number): Group | 'colour' | 'shape' | 'absent-object' {
  const exact = scene.groups.find((g) => g.colour === colour && g.shape === shape);
  if (exact) return exact;
  const near = scene.groups
    .filter((g) => g.shape === shape || g.colour === colour)
    .map((g) => ({ kind: g.shape === shape ? ('colour' as const) : ('shape' as const), affinity: affinity(g) }));
  if (near.length === 0) return 'absent-object';
  const best = Math.max(...near.map((n) => n.affinity));
  const kinds = new Set(near.filter((n) => n.affinity === best).map((n) => n.kind));
  return kinds.has('colour') ? 'colour' : 'shape';
}

function hallucinationOf(scene: Scene, claim: Claim): HallucinationKind | null {
  switch (claim.kind) {
    case 'background':
      return claim.background === scene.background ? null : 'background';
    case 'absent':
      return 'absent-object';
    case 'count': {
      const target = identify(scene, claim.colour, claim.shape, (g) => (g.count === claim.count ? 1 : 0));
      if (typeof target === 'string') return target;
      return target.count === claim.count ? null : 'count';
    }
    case 'side': {
      const numberAgrees = (g: Group) => (g.count > 1) === claim.plural;
      const target = identify(scene, claim.colour, claim.shape, (g) => (g.side === claim.side ? 2 : 0) + (numberAgrees(g) ? 1 : 0));
      if (typeof target === 'string') return target;
      if (target.side !== claim.side) return 'side';
      return numberAgrees(target) ? null : 'count';
    }
  }
}

/** The verdict on one sentence (whitespace around it aside). */
export function judgeSentence(scene: Scene, sentence: string): SentenceVerdict {
  const claim = parseSentence(sentence);
  if (!claim) return { verdict: 'unparsed' };
  const kind = hallucinationOf(scene, claim);
  return kind ? { verdict: 'hallucinated', kind, claim } : { verdict: 'correct', claim };
}

/** Every sentence of a description judged, the scene's facts marked as stated or not, and the caption's shares. */
export function judgeDescription(scene: Scene, text: string): DescriptionJudgement {
  const sentences = splitSentences(text)
    .filter((s) => s.text.trim() !== '')
    .map((s): JudgedSentence => ({ text: s.text, start: s.start, end: s.end, ...judgeSentence(scene, s.text) }));
  const stated = new Set(sentences.filter((s) => s.verdict === 'correct').map((s) => s.text.trim()));
  const facts = descriptionSentences(scene).map((sentence) => ({ sentence, stated: stated.has(sentence) }));
  const count = (verdict: SentenceVerdict['verdict']) => sentences.filter((s) => s.verdict === verdict).length;
  const [correct, hallucinated, unparsed] = [count('correct'), count('hallucinated'), count('unparsed')];
  return {
    sentences,
    facts,
    correct,
    hallucinated,
    unparsed,
    chairI: share(hallucinated, correct + hallucinated),
    recall: facts.filter((f) => f.stated).length / facts.length,
    unparsedShare: share(unparsed, sentences.length),
  };
}

/** The CHAIR-style figures of a set of judged descriptions (pooled; see the module comment). */
export function descriptionMetrics(judgements: readonly DescriptionJudgement[]): DescriptionMetrics {
  const sum = (f: (j: DescriptionJudgement) => number) => judgements.reduce((s, j) => s + f(j), 0);
  const claims = sum((j) => j.correct + j.hallucinated);
  const sentences = sum((j) => j.sentences.length);
  const kinds = Object.fromEntries(HALLUCINATION_KINDS.map((k) => [k, 0])) as Record<HallucinationKind, number>;
  for (const j of judgements) for (const s of j.sentences) if (s.verdict === 'hallucinated') kinds[s.kind]++;
  return {
    descriptions: judgements.length,
    sentences,
    claims,
    chairS: share(judgements.filter((j) => j.hallucinated > 0).length, judgements.length),
    chairI: share(sum((j) => j.hallucinated), claims),
    recall: share(sum((j) => j.facts.filter((f) => f.stated).length), sum((j) => j.facts.length)),
    unparsed: share(sum((j) => j.unparsed), sentences),
    kinds,
  };
}

export interface Probe {
  question: string;
  colour: Colour;
  shape: Shape;
  /** whether the right answer is yes */
  truth: boolean;
}

/** Yes/no probes for a scene, as many yes as no (see the module comment); the negatives are drawn with `seed`. */
export function balancedProbes(scene: Scene, seed: number): Probe[] {
  const probe = (colour: Colour, shape: Shape, truth: boolean): Probe => ({ question: existsQuestion(colour, shape), colour, shape, truth });
  const present = scene.groups.map((g) => probe(g.colour, g.shape, true));
  const candidates = COLOURS.flatMap((colour) => SHAPES.map((shape) => ({ colour, shape }))).filter(
    ({ colour, shape }) =>
      !scene.groups.some((g) => g.colour === colour && g.shape === shape) && scene.groups.some((g) => g.colour === colour || g.shape === shape),
  );
  const prng = new Prng(seed);
  const negatives: Probe[] = [];
  while (negatives.length < present.length) {
    const [pick] = candidates.splice(prng.int(candidates.length), 1);
    negatives.push(probe(pick.colour, pick.shape, false));
  }
  return [...present, ...negatives];
}

export interface PopeMetrics {
  probes: number;
  accuracy: number | null;
  precision: number | null;
  recall: number | null;
  f1: number | null;
  /** share of probes answered `Yes.` */
  yesRatio: number | null;
  /** probes whose answer is neither `Yes.` nor `No.` */
  unparsed: number;
}

/** POPE's figures over yes/no probes and the answers given (see the module comment). */
export function popeMetrics(answered: readonly { truth: boolean; answer: string }[]): PopeMetrics {
  let tp = 0;
  let fp = 0;
  let tn = 0;
  let unparsed = 0;
  for (const { truth, answer } of answered) {
    const yes = parseYesNo(answer);
    if (yes === null) unparsed++;
    else if (yes && truth) tp++;
    else if (yes) fp++;
    else if (!truth) tn++;
  }
  const positives = answered.filter((a) => a.truth).length;
  const precision = share(tp, tp + fp);
  const recall = share(tp, positives);
  return {
    probes: answered.length,
    accuracy: share(tp + tn, answered.length),
    precision,
    recall,
    f1: precision === null || recall === null ? null : precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall),
    yesRatio: share(tp + fp, answered.length),
    unparsed,
  };
}
