import { describe, expect, it } from 'vitest';
import { ABSENT_OBJECTS, absentSentence, backgroundSentence, countSentence, describeScene, descriptionSentences, sideSentence } from './captions';
import { balancedProbes, descriptionMetrics, judgeDescription, judgeSentence, popeMetrics, type HallucinationKind } from './judge';
import { BACKGROUNDS, COLOURS, COUNTS, SHAPES, type Scene } from './scene';
import { allScenes } from './splits';

/** A scene from its background and groups written as "2 red circle left". */
function scene(background: 'white' | 'black', ...groups: string[]): Scene {
  return {
    background,
    groups: groups.map((g) => {
      const [count, colour, shape, side] = g.split(' ');
      return { count: Number(count), colour, shape, side } as Scene['groups'][0];
    }),
  };
}

const A = scene('white', '2 red circle left', '1 blue square right');
const B = scene('black', '3 green triangle center');
const C = scene('white', '2 red circle left', '2 blue square right');
const D = scene('black', '1 red circle left', '2 blue square right');
const E = scene('white', '1 yellow square left', '1 yellow triangle right');
const F = scene('black', '2 red circle left', '3 green circle right');

type Expected = 'correct' | 'unparsed' | HallucinationKind;

// [scene, sentence, verdict or hallucination kind], written by hand from the rules in judge.ts and captions.ts.
const CASES: [string, Scene, string, Expected][] = [
  // count sentences
  ['A', A, 'There are two red circles.', 'correct'],
  ['A', A, 'There is one blue square.', 'correct'],
  ['A', A, 'There are three red circles.', 'count'],
  ['A', A, 'There is one red circle.', 'count'],
  ['A', A, 'There are two blue squares.', 'count'],
  ['A', A, 'There are two green circles.', 'colour'],
  ['A', A, 'There are two red triangles.', 'shape'],
  ['A', A, 'There are two yellow triangles.', 'absent-object'],
  ['A', A, 'There is one blue circle.', 'shape'],
  ['A', A, 'There are two blue circles.', 'colour'],
  ['A', A, 'There are two red squares.', 'shape'],
  ['A', A, 'There is one red square.', 'colour'],
  ['C', C, 'There are two red squares.', 'colour'],
  ['C', C, 'There are three red squares.', 'colour'],
  ['D', D, 'There are two red squares.', 'colour'],
  ['D', D, 'There is one red square.', 'shape'],
  ['B', B, 'There are three green triangles.', 'correct'],
  ['B', B, 'There are two green triangles.', 'count'],
  ['B', B, 'There are three red triangles.', 'colour'],
  ['B', B, 'There are three green squares.', 'shape'],
  ['B', B, 'There is one blue circle.', 'absent-object'],
  ['E', E, 'There is one yellow circle.', 'shape'],
  ['E', E, 'There is one red square.', 'colour'],
  ['E', E, 'There is one yellow triangle.', 'correct'],
  ['F', F, 'There are three red circles.', 'count'],
  ['F', F, 'There are three blue circles.', 'colour'],
  ['F', F, 'There are two red squares.', 'shape'],
  // side sentences
  ['A', A, 'The red circles are on the left.', 'correct'],
  ['A', A, 'The blue square is on the right.', 'correct'],
  ['A', A, 'The red circles are on the right.', 'side'],
  ['A', A, 'The blue square is on the left.', 'side'],
  ['A', A, 'The red circle is on the left.', 'count'],
  ['A', A, 'The blue squares are on the right.', 'count'],
  ['A', A, 'The blue squares are on the left.', 'side'],
  ['A', A, 'The green circles are on the left.', 'colour'],
  ['A', A, 'The red triangles are on the left.', 'shape'],
  ['A', A, 'The blue circles are on the left.', 'colour'],
  ['A', A, 'The blue circle is on the right.', 'shape'],
  ['A', A, 'The yellow triangles are on the left.', 'absent-object'],
  ['B', B, 'The green triangles are on the left.', 'side'],
  ['B', B, 'The green triangles are on the right.', 'side'],
  ['B', B, 'The green triangle is on the left.', 'side'],
  ['E', E, 'The yellow square is on the right.', 'side'],
  ['E', E, 'The yellow triangle is on the right.', 'correct'],
  ['F', F, 'The green circles are on the left.', 'side'],
  // background
  ['A', A, 'The background is white.', 'correct'],
  ['A', A, 'The background is black.', 'background'],
  ['B', B, 'The background is black.', 'correct'],
  ['B', B, 'The background is white.', 'background'],
  // absent objects
  ['A', A, 'There is a dog.', 'absent-object'],
  ['B', B, 'There is a person.', 'absent-object'],
  ['E', E, 'There is a cup.', 'absent-object'],
  // near-misses: not exactly a form
  ['A', A, 'There are one red circle.', 'unparsed'],
  ['A', A, 'There is two red circles.', 'unparsed'],
  ['A', A, 'There are two red circle.', 'unparsed'],
  ['A', A, 'There is one red circles.', 'unparsed'],
  ['A', A, 'There is a red circle.', 'unparsed'],
  ['A', A, 'There are zero red circles.', 'unparsed'],
  ['A', A, 'There are 2 red circles.', 'unparsed'],
  ['A', A, 'There are four red circles.', 'unparsed'],
  ['A', A, 'There is one purple circle.', 'unparsed'],
  ['A', A, 'There is one red star.', 'unparsed'],
  ['A', A, 'There is a unicorn.', 'unparsed'],
  ['A', A, 'There is an apple.', 'unparsed'],
  ['A', A, 'The background is grey.', 'unparsed'],
  ['A', A, 'The red circles are on the center.', 'unparsed'],
  ['A', A, 'The red circles are in the middle.', 'unparsed'],
  ['A', A, 'The red circles is on the left.', 'unparsed'],
  ['A', A, 'The red circle are on the left.', 'unparsed'],
  ['A', A, 'The red circles are left.', 'unparsed'],
  ['A', A, 'The picture shows two red circles.', 'unparsed'],
  ['A', A, 'There are two red circles and one blue square.', 'unparsed'],
  ['A', A, 'There are two red circles, one blue square.', 'unparsed'],
  ['A', A, 'Is there a red circle?', 'unparsed'],
  ['A', A, 'Yes.', 'unparsed'],
  ['A', A, '', 'unparsed'],
  // case
  ['A', A, 'there are two red circles.', 'unparsed'],
  ['A', A, 'There are two Red circles.', 'unparsed'],
  ['A', A, 'THERE ARE TWO RED CIRCLES.', 'unparsed'],
  ['A', A, 'The background is White.', 'unparsed'],
  ['A', A, 'There is a Dog.', 'unparsed'],
  // punctuation and spacing
  ['A', A, 'There are two red circles', 'unparsed'],
  ['A', A, 'There are two red circles!', 'unparsed'],
  ['A', A, 'There are two red circles..', 'unparsed'],
  ['A', A, 'There are two red circles .', 'unparsed'],
  ['A', A, 'There are  two red circles.', 'unparsed'],
  ['A', A, 'There are\ttwo red circles.', 'unparsed'],
  ['A', A, 'There are two\u00a0red circles.', 'unparsed'],
  ['A', A, '  There are two red circles.  ', 'correct'],
  ['A', A, 'There are two red circles.\n', 'correct'],
  ['A', A, '\tThe background is black. ', 'background'],
];

describe('the judge on hand-written sentences', () => {
  it('has at least 60 cases, every hallucination kind among them', () => {
    expect(CASES.length).toBeGreaterThanOrEqual(60);
    expect(new Set(CASES.map((c) => c[3]))).toEqual(new Set(['correct', 'unparsed', 'colour', 'shape', 'count', 'side', 'background', 'absent-object']));
  });

  it.each(CASES.map(([name, s, sentence, expected]) => ({ name, s, sentence, expected })))('scene $name: $sentence is $expected', ({ s, sentence, expected }) => {
    const v = judgeSentence(s, sentence);
    expect(v.verdict === 'hallucinated' ? v.kind : v.verdict).toBe(expected);
  });
});

describe('the judge on every sentence of the language', () => {
  const sides: ('left' | 'right')[] = ['left', 'right'];
  const language = [
    ...COUNTS.flatMap((count) => COLOURS.flatMap((colour) => SHAPES.map((shape) => countSentence({ count, colour, shape })))),
    ...[1, 2].flatMap((count) =>
      COLOURS.flatMap((colour) => SHAPES.flatMap((shape) => sides.map((side) => sideSentence({ count: count as 1 | 2, colour, shape }, side)))),
    ),
    ...BACKGROUNDS.map(backgroundSentence),
    ...ABSENT_OBJECTS.map(absentSentence),
  ];

  it('parses each one, and finds it correct in a scene exactly when the scene\u2019s description says it', () => {
    expect(language).toHaveLength(36 + 48 + 2 + 6);
    const wrong: string[] = [];
    for (const s of allScenes()) {
      const facts = new Set(descriptionSentences(s));
      for (const sentence of language) {
        const v = judgeSentence(s, sentence);
        if (v.verdict === 'unparsed' || (v.verdict === 'correct') !== facts.has(sentence)) wrong.push(`${describeScene(s)} | ${sentence} → ${v.verdict}`);
      }
    }
    expect(wrong.slice(0, 5)).toEqual([]);
  });
});

describe('judging a description', () => {
  it('finds the correct description all correct, every fact stated', () => {
    for (const s of [A, B, E]) {
      const j = judgeDescription(s, describeScene(s));
      expect(j.sentences.map((x) => x.verdict)).toEqual(descriptionSentences(s).map(() => 'correct'));
      expect([j.chairI, j.recall, j.unparsedShare]).toEqual([0, 1, 0]);
      expect(j.facts.every((f) => f.stated)).toBe(true);
    }
  });

  it('splits with our splitter and keeps the spans', () => {
    const text = 'There are two red circles. The red circles are on the right.\nThe blue square is on the right. the background is white. There is a cat.';
    const j = judgeDescription(A, text);
    expect(j.sentences.map((s) => [text.slice(s.start, s.end), s.verdict])).toEqual([
      ['There are two red circles. ', 'correct'],
      ['The red circles are on the right.\n', 'hallucinated'],
      // the splitter ends no sentence before a lowercase word: a true sentence and the one after it are one span
      ['The blue square is on the right. the background is white. ', 'unparsed'],
      ['There is a cat.', 'hallucinated'],
    ]);
    expect(j.sentences.map((s) => (s.verdict === 'hallucinated' ? s.kind : null))).toEqual([null, 'side', null, 'absent-object']);
    expect(j.facts).toEqual([
      { sentence: 'There are two red circles.', stated: true },
      { sentence: 'The red circles are on the left.', stated: false },
      { sentence: 'There is one blue square.', stated: false },
      { sentence: 'The blue square is on the right.', stated: false },
      { sentence: 'The background is white.', stated: false },
    ]);
    expect([j.correct, j.hallucinated, j.unparsed, j.chairI, j.recall, j.unparsedShare]).toEqual([1, 2, 1, 2 / 3, 1 / 5, 1 / 4]);
  });

  it('needs a space after a full stop to see two sentences', () => {
    expect(judgeDescription(B, 'There are three green triangles.The background is black.').sentences.map((s) => s.verdict)).toEqual(['unparsed']);
  });

  it('counts a fact once however often it is said, every claim each time', () => {
    const j = judgeDescription(B, 'There are three green triangles. There are three green triangles. There is a car.');
    expect([j.correct, j.hallucinated, j.chairI, j.recall]).toEqual([2, 1, 1 / 3, 1 / 2]);
  });

  it('has no shares for an empty text but its recall of 0', () => {
    const j = judgeDescription(A, '  ');
    expect([j.sentences.length, j.chairI, j.recall, j.unparsedShare]).toEqual([0, null, 0, null]);
  });
});

describe('figures over descriptions', () => {
  it('pools sentences, claims and facts', () => {
    const judged = [
      judgeDescription(A, describeScene(A)), // 5 correct, 5 of 5 facts
      judgeDescription(B, 'There are two green triangles. The background is black. Hello there.'), // 1 correct, 1 count, 1 unparsed; 1 of 2 facts
      judgeDescription(E, 'There is a dog. There is a cat. There is one yellow square.'), // 1 correct, 2 absent; 1 of 5 facts
    ];
    const m = descriptionMetrics(judged);
    expect(m).toEqual({
      descriptions: 3,
      sentences: 11,
      claims: 10,
      chairS: 2 / 3,
      chairI: 3 / 10,
      recall: 7 / 12,
      unparsed: 1 / 11,
      kinds: { colour: 0, shape: 0, count: 1, side: 0, background: 0, 'absent-object': 2 },
    });
    expect(descriptionMetrics([])).toMatchObject({ descriptions: 0, chairS: null, chairI: null, recall: null, unparsed: null });
  });
});

describe('yes/no probes (POPE-style)', () => {
  it('asks as many yes as no; the no are pairs absent from the scene that share a colour or shape with it', () => {
    for (const s of [A, B, E, F]) {
      const probes = balancedProbes(s, 3);
      const yes = probes.filter((p) => p.truth);
      const no = probes.filter((p) => !p.truth);
      expect(yes.map((p) => `${p.colour} ${p.shape}`)).toEqual(s.groups.map((g) => `${g.colour} ${g.shape}`));
      expect(no).toHaveLength(yes.length);
      for (const p of no) {
        expect(s.groups.some((g) => g.colour === p.colour && g.shape === p.shape)).toBe(false);
        expect(s.groups.some((g) => g.colour === p.colour || g.shape === p.shape)).toBe(true);
        expect(p.question).toBe(`Is there a ${p.colour} ${p.shape}?`);
      }
      expect(new Set(no.map((p) => p.question)).size).toBe(no.length);
      expect(balancedProbes(s, 3)).toEqual(probes);
    }
    const drawn = new Set(Array.from({ length: 20 }, (_, seed) => balancedProbes(B, seed)[1].question));
    expect(drawn.size).toBeGreaterThan(1);
  });

  it('scores answers: accuracy, precision, recall, F1 and the yes-ratio', () => {
    const truth = [true, true, true, true, false, false, false, false];
    const answers = ['Yes.', 'Yes.', 'Yes.', 'No.', 'Yes.', 'No.', 'No.', 'Maybe.'];
    // TP 3, FN 1, FP 1, TN 2, one unparsed (a negative, counted wrong)
    expect(popeMetrics(truth.map((t, i) => ({ truth: t, answer: answers[i] })))).toEqual({
      probes: 8,
      accuracy: 5 / 8,
      precision: 3 / 4,
      recall: 3 / 4,
      f1: 3 / 4,
      yesRatio: 4 / 8,
      unparsed: 1,
    });
    expect(popeMetrics([{ truth: true, answer: 'No.' }, { truth: false, answer: 'No.' }])).toEqual({
      probes: 2, accuracy: 1 / 2, precision: null, recall: 0, f1: null, yesRatio: 0, unparsed: 0,
    });
    expect(popeMetrics([{ truth: false, answer: 'Yes.' }, { truth: true, answer: 'No.' }])).toMatchObject({ precision: 0, recall: 0, f1: 0 });
  });
});
