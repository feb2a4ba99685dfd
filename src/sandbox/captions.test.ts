import { describe, expect, it } from 'vitest';
import {
  answerFor,
  countAnswer,
  countQuestion,
  DESCRIBE_PROMPT,
  describeScene,
  existsQuestion,
  parseCountAnswer,
  parseQuestion,
  parseSentence,
  parseYesNo,
} from './captions';
import { parseScene } from './scene';

const TWO = parseScene('{"background":"white","groups":[{"count":1,"colour":"blue","shape":"square","side":"right"},{"count":2,"colour":"red","shape":"circle","side":"left"}]}');
const ONE = parseScene('{"background":"black","groups":[{"count":3,"colour":"green","shape":"triangle","side":"center"}]}');

describe('the caption language', () => {
  it('describes a scene of two groups left to right, each with its side, then the background', () => {
    expect(describeScene(TWO)).toBe(
      'There are two red circles. The red circles are on the left. There is one blue square. The blue square is on the right. The background is white.',
    );
  });

  it('describes a scene of one group without sides', () => {
    expect(describeScene(ONE)).toBe('There are three green triangles. The background is black.');
    expect(describeScene({ background: 'white', groups: [{ count: 1, colour: 'yellow', shape: 'circle', side: 'center' }] })).toBe(
      'There is one yellow circle. The background is white.',
    );
  });

  it('asks and answers the three questions', () => {
    expect(existsQuestion('red', 'circle')).toBe('Is there a red circle?');
    expect(countQuestion('blue', 'triangle')).toBe('How many blue triangles are there?');
    expect(answerFor(TWO, { kind: 'exists', colour: 'red', shape: 'circle' })).toBe('Yes.');
    expect(answerFor(TWO, { kind: 'exists', colour: 'red', shape: 'square' })).toBe('No.');
    expect(answerFor(TWO, { kind: 'count', colour: 'red', shape: 'circle' })).toBe('Two.');
    expect(answerFor(TWO, { kind: 'count', colour: 'blue', shape: 'square' })).toBe('One.');
    expect(answerFor(ONE, { kind: 'count', colour: 'green', shape: 'triangle' })).toBe('Three.');
    expect(answerFor(ONE, { kind: 'count', colour: 'green', shape: 'circle' })).toBe('Zero.');
    expect(answerFor(ONE, { kind: 'describe' })).toBe(describeScene(ONE));
    expect([0, 1, 2, 3].map(countAnswer)).toEqual(['Zero.', 'One.', 'Two.', 'Three.']);
  });

  it('reads questions and answers exactly', () => {
    expect(parseQuestion(DESCRIBE_PROMPT)).toEqual({ kind: 'describe' });
    expect(parseQuestion('Is there a yellow square?')).toEqual({ kind: 'exists', colour: 'yellow', shape: 'square' });
    expect(parseQuestion(' How many red circles are there?\n')).toEqual({ kind: 'count', colour: 'red', shape: 'circle' });
    for (const q of ['Describe the image.', 'Is there a red circles?', 'How many red circle are there?', 'is there a red circle?', 'Is there a purple circle?']) {
      expect(parseQuestion(q), q).toBeNull();
    }
    expect([parseYesNo('Yes.'), parseYesNo(' No. '), parseYesNo('yes.'), parseYesNo('Yes'), parseYesNo('Yes, there is.')]).toEqual([true, false, null, null, null]);
    expect(['Zero.', 'Three.', 'Four.', 'two.', '2.', 'Two'].map(parseCountAnswer)).toEqual([0, 3, null, null, null, null]);
  });

  it('reads back every sentence it writes as the claim it makes', () => {
    expect(parseSentence('There is one red circle.')).toEqual({ kind: 'count', count: 1, colour: 'red', shape: 'circle' });
    expect(parseSentence('There are three yellow triangles.')).toEqual({ kind: 'count', count: 3, colour: 'yellow', shape: 'triangle' });
    expect(parseSentence('The blue square is on the right.')).toEqual({ kind: 'side', colour: 'blue', shape: 'square', plural: false, side: 'right' });
    expect(parseSentence('The green circles are on the left.')).toEqual({ kind: 'side', colour: 'green', shape: 'circle', plural: true, side: 'left' });
    expect(parseSentence('The background is black.')).toEqual({ kind: 'background', background: 'black' });
    expect(parseSentence('There is a tree.')).toEqual({ kind: 'absent', object: 'tree' });
    expect(parseSentence('There is one red circle. ')).toEqual(parseSentence('There is one red circle.'));
  });
});
