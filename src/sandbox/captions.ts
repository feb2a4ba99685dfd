/**
 * The sandbox's language (issue 12, "The world"): exactly these sentence forms, and nothing else.
 *
 * | claim | form |
 * |---|---|
 * | count | `There is one <colour> <shape>.` / `There are two\|three <colour> <shape>s.` |
 * | side | `The <colour> <shape> is on the left\|right.` / `The <colour> <shape>s are on the left\|right.` |
 * | background | `The background is white\|black.` |
 * | absent object | `There is a dog\|cat\|car\|tree\|person\|cup.` (never true in this world) |
 *
 * Descriptions join sentences with one space. The correct description names the groups left to right, each with
 * its count sentence and, when there are two groups, its side sentence, then the background:
 * `There are two red circles. The red circles are on the left. There is one blue square. The blue square is on
 * the right. The background is white.`
 *
 * Questions and their answers: `Describe the picture.` → a description; `Is there a <colour> <shape>?` → `Yes.`
 * or `No.`; `How many <colour> <shape>s are there?` → `One.`, `Two.`, `Three.` or `Zero.`
 *
 * Reading (`parseSentence`, `parseQuestion`, `parseAnswer`) is exact: a sentence is a form when it is one letter
 * for letter, case included (`there is one red circle.` and `There is one Red circle.` are not), with single ASCII
 * spaces between its words and no space before the full stop; only whitespace around the sentence is ignored (the
 * sentence splitter keeps the space after a sentence with it). So the count word must agree with the verb and the
 * plural (`There are one red circle.`, `There is two red circles.` and `There are two red circle.` are not forms),
 * `a` names only absent objects (`There is a red circle.` is not a form), and `zero` is an answer, not a count
 * (`There are zero red circles.` is not a form).
 *
 * Pure TS: no DOM, no Node.
 */
import { BACKGROUNDS, COLOURS, groupsInOrder, SHAPES, type Background, type Colour, type Count, type Group, type Scene, type Shape } from './scene';

export const ABSENT_OBJECTS = ['dog', 'cat', 'car', 'tree', 'person', 'cup'] as const;
export type AbsentObject = (typeof ABSENT_OBJECTS)[number];

/** What a sentence of the language states. */
export type Claim =
  | { kind: 'count'; count: Count; colour: Colour; shape: Shape }
  | { kind: 'side'; colour: Colour; shape: Shape; plural: boolean; side: 'left' | 'right' }
  | { kind: 'background'; background: Background }
  | { kind: 'absent'; object: AbsentObject };

export type Question =
  | { kind: 'describe' }
  | { kind: 'exists'; colour: Colour; shape: Shape }
  | { kind: 'count'; colour: Colour; shape: Shape };

export const DESCRIBE_PROMPT = 'Describe the picture.';

const COUNT_WORDS: Record<Count, string> = { 1: 'one', 2: 'two', 3: 'three' };
const ANSWER_WORDS = ['Zero.', 'One.', 'Two.', 'Three.'] as const;
const YES = 'Yes.';
const NO = 'No.';

const alternatives = (words: readonly string[]) => `(${words.join('|')})`;
const COLOUR = alternatives(COLOURS);
const SHAPE = alternatives(SHAPES);
const FORMS = {
  countOne: new RegExp(`^There is one ${COLOUR} ${SHAPE}\\.$`),
  countMany: new RegExp(`^There are (two|three) ${COLOUR} ${SHAPE}s\\.$`),
  sideOne: new RegExp(`^The ${COLOUR} ${SHAPE} is on the (left|right)\\.$`),
  sideMany: new RegExp(`^The ${COLOUR} ${SHAPE}s are on the (left|right)\\.$`),
  background: new RegExp(`^The background is ${alternatives(BACKGROUNDS)}\\.$`),
  absent: new RegExp(`^There is a ${alternatives(ABSENT_OBJECTS)}\\.$`),
  exists: new RegExp(`^Is there a ${COLOUR} ${SHAPE}\\?$`),
  howMany: new RegExp(`^How many ${COLOUR} ${SHAPE}s are there\\?$`),
};

const nounPhrase = (colour: Colour, shape: Shape, count: number) => `${colour} ${shape}${count === 1 ? '' : 's'}`;

export function countSentence(group: Pick<Group, 'count' | 'colour' | 'shape'>): string {
  const { count, colour, shape } = group;
  return count === 1 ? `There is one ${colour} ${shape}.` : `There are ${COUNT_WORDS[count]} ${nounPhrase(colour, shape, count)}.`;
}

/** The side sentence; its number (`is` / `are`) follows the group's count. */
export function sideSentence(group: Pick<Group, 'count' | 'colour' | 'shape'>, side: 'left' | 'right'): string {
  const { count, colour, shape } = group;
  return `The ${nounPhrase(colour, shape, count)} ${count === 1 ? 'is' : 'are'} on the ${side}.`;
}

export const backgroundSentence = (background: Background) => `The background is ${background}.`;
export const absentSentence = (object: AbsentObject) => `There is a ${object}.`;

/** The sentences of the correct description, in order (see the module comment). */
export function descriptionSentences(scene: Scene): string[] {
  const sentences: string[] = [];
  for (const group of groupsInOrder(scene)) {
    sentences.push(countSentence(group));
    if (group.side !== 'center') sentences.push(sideSentence(group, group.side));
  }
  sentences.push(backgroundSentence(scene.background));
  return sentences;
}

/** The correct description of a scene: its sentences joined with one space. */
export function describeScene(scene: Scene): string {
  return descriptionSentences(scene).join(' ');
}

export const existsQuestion = (colour: Colour, shape: Shape) => `Is there a ${colour} ${shape}?`;
export const countQuestion = (colour: Colour, shape: Shape) => `How many ${colour} ${shape}s are there?`;

/** How many shapes of this colour and shape the scene holds (0 when no group is of both). */
export function shapesOf(scene: Scene, colour: Colour, shape: Shape): number {
  return scene.groups.find((g) => g.colour === colour && g.shape === shape)?.count ?? 0;
}

export const yesNoAnswer = (yes: boolean) => (yes ? YES : NO);
export const countAnswer = (count: number) => ANSWER_WORDS[count];

/** The correct answer to a question about the scene (`Describe the picture.` → the description). */
export function answerFor(scene: Scene, question: Question): string {
  switch (question.kind) {
    case 'describe':
      return describeScene(scene);
    case 'exists':
      return yesNoAnswer(shapesOf(scene, question.colour, question.shape) > 0);
    case 'count':
      return countAnswer(shapesOf(scene, question.colour, question.shape));
  }
}

/** The claim of a sentence that is exactly one of the forms (whitespace around it aside), else null. */
export function parseSentence(sentence: string): Claim | null {
  const text = sentence.trim();
  let m: RegExpExecArray | null;
  if ((m = FORMS.countOne.exec(text))) return { kind: 'count', count: 1, colour: m[1] as Colour, shape: m[2] as Shape };
  if ((m = FORMS.countMany.exec(text))) return { kind: 'count', count: m[1] === 'two' ? 2 : 3, colour: m[2] as Colour, shape: m[3] as Shape };
  if ((m = FORMS.sideOne.exec(text))) return { kind: 'side', colour: m[1] as Colour, shape: m[2] as Shape, plural: false, side: m[3] as 'left' | 'right' };
  if ((m = FORMS.sideMany.exec(text))) return { kind: 'side', colour: m[1] as Colour, shape: m[2] as Shape, plural: true, side: m[3] as 'left' | 'right' };
  if ((m = FORMS.background.exec(text))) return { kind: 'background', background: m[1] as Background };
  if ((m = FORMS.absent.exec(text))) return { kind: 'absent', object: m[1] as AbsentObject };
  return null;
}

/** The question a prompt is, read as exactly as sentences are, else null. */
export function parseQuestion(prompt: string): Question | null {
  const text = prompt.trim();
  if (text === DESCRIBE_PROMPT) return { kind: 'describe' };
  let m: RegExpExecArray | null;
  if ((m = FORMS.exists.exec(text))) return { kind: 'exists', colour: m[1] as Colour, shape: m[2] as Shape };
  if ((m = FORMS.howMany.exec(text))) return { kind: 'count', colour: m[1] as Colour, shape: m[2] as Shape };
  return null;
}

/** A yes/no answer as a boolean, or null when it is not exactly `Yes.` or `No.` (whitespace around it aside). */
export function parseYesNo(answer: string): boolean | null {
  const text = answer.trim();
  return text === YES ? true : text === NO ? false : null;
}

/** A how-many answer as a number, or null when it is not exactly one of `Zero.` … `Three.` */
export function parseCountAnswer(answer: string): number | null {
  const i = (ANSWER_WORDS as readonly string[]).indexOf(answer.trim());
  return i < 0 ? null : i;
}
