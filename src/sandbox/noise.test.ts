import { describe, expect, it } from 'vitest';
import { Prng } from '../models/prng';
import { describeScene } from './captions';
import { judgeDescription } from './judge';
import { CORRUPTION_KINDS, corruptDescription, corruptionKindsFor, NOISE_SHARE, sftExamples } from './noise';
import { sceneKey } from './scene';
import { allScenes, heldOutReason } from './splits';

const WORDS = ['Zero.', 'One.', 'Two.', 'Three.'];

describe('SFT data with noise', () => {
  it('declares the noise share once: default 0.15, in [0, 1]', () => {
    expect(NOISE_SHARE).toMatchObject({ default: 0.15, min: 0, max: 1 });
    expect(() => sftExamples({ scenes: 4, seed: 0, noiseShare: 1.5 })).toThrow('noiseShare must be in [0, 1], got 1.5');
    expect(() => sftExamples({ scenes: 4, seed: 0, noiseShare: -0.1 })).toThrow('noiseShare must be in [0, 1], got -0.1');
    expect(() => sftExamples({ scenes: 4, seed: 0, noiseShare: Number.NaN })).toThrow('noiseShare must be in [0, 1], got NaN');
    expect(() => sftExamples({ scenes: 2.5, seed: 0 })).toThrow('scenes must be a non-negative integer, got 2.5');
  });

  it('corrupts exactly the set share of descriptions, one sentence each, which the judge finds of the recorded kind', () => {
    const examples = sftExamples({ scenes: 400, seed: 11 });
    const descriptions = examples.filter((e) => e.task === 'describe');
    expect(descriptions).toHaveLength(400);
    expect(descriptions.filter((e) => e.corruption)).toHaveLength(60);
    const kinds = new Set<string>();
    for (const e of descriptions) {
      const j = judgeDescription(e.scene, e.answer);
      expect(j.unparsed).toBe(0);
      if (!e.corruption) {
        expect(e.answer).toBe(describeScene(e.scene));
        expect([j.hallucinated, j.recall]).toEqual([0, 1]);
        continue;
      }
      kinds.add(e.corruption.kind);
      const wrong = j.sentences.flatMap((s, i) => (s.verdict === 'hallucinated' ? [{ i, kind: s.kind }] : []));
      expect(wrong, e.answer).toEqual([{ i: e.corruption.sentence, kind: e.corruption.kind }]);
    }
    expect([...kinds].sort()).toEqual([...CORRUPTION_KINDS].sort());
  });

  it('takes the share as set: none at 0, all at 1, rounded in between', () => {
    const corrupted = (noiseShare: number, scenes: number) => sftExamples({ scenes, seed: 2, noiseShare }).filter((e) => e.corruption).length;
    expect([corrupted(0, 50), corrupted(1, 50), corrupted(0.5, 7), corrupted(0.15, 10)]).toEqual([0, 50, 4, 2]);
  });

  it('can corrupt every scene of the world in every way it allows, and the judge agrees', () => {
    const prng = new Prng(3);
    const problems: string[] = [];
    for (const scene of allScenes()) {
      expect(corruptionKindsFor(scene)).toEqual(scene.groups.length === 2 ? [...CORRUPTION_KINDS] : CORRUPTION_KINDS.filter((k) => k !== 'side'));
      for (const kind of corruptionKindsFor(scene)) {
        const { sentences, corruption } = corruptDescription(scene, kind, prng);
        const j = judgeDescription(scene, sentences.join(' '));
        const wrong = j.sentences.flatMap((s, i) => (s.verdict === 'hallucinated' ? [`${i} ${s.kind}`] : []));
        if (j.unparsed > 0 || wrong.join() !== `${corruption.sentence} ${kind}`) problems.push(`${sceneKey(scene)} ${kind}: ${wrong.join()}`);
      }
    }
    expect(problems.slice(0, 5)).toEqual([]);
    expect(() => corruptDescription(allScenes()[0], 'side', prng)).toThrow(/two groups/);
  });

  it('asks balanced yes/no and how-many questions about training scenes, answered right', () => {
    const examples = sftExamples({ scenes: 300, seed: 4 });
    expect(examples.map((e) => e.task).slice(0, 6)).toEqual(['describe', 'exists', 'count', 'describe', 'exists', 'count']);
    let yes = 0;
    let zero = 0;
    for (const e of examples) {
      expect(heldOutReason(e.scene)).toBeNull();
      const m = /^(?:Is there a|How many) (\w+) (\w+?)s?(?: are there)?\?$/.exec(e.prompt);
      if (e.task === 'describe') {
        expect(e.prompt).toBe('Describe the picture.');
        continue;
      }
      const [, colour, shape] = m!;
      const count = e.scene.groups.filter((g) => g.colour === colour && g.shape === shape).reduce((n, g) => n + g.count, 0);
      if (e.task === 'exists') {
        expect(e.prompt).toBe(`Is there a ${colour} ${shape}?`);
        expect(e.answer).toBe(count > 0 ? 'Yes.' : 'No.');
        if (count > 0) yes++;
      } else {
        expect(e.prompt).toBe(`How many ${colour} ${shape}s are there?`);
        expect(e.answer).toBe(WORDS[count]);
        if (count === 0) zero++;
      }
    }
    expect(yes).toBe(150);
    expect(zero / 300).toBeGreaterThan(0.15);
    expect(zero / 300).toBeLessThan(0.35);
  });

  it('follows from the seed alone', () => {
    const a = sftExamples({ scenes: 30, seed: 9, noiseShare: 0.3 });
    expect(sftExamples({ scenes: 30, seed: 9, noiseShare: 0.3 })).toEqual(a);
    expect(sftExamples({ scenes: 30, seed: 10, noiseShare: 0.3 })).not.toEqual(a);
    expect(new Set(a.map((e) => e.seed)).size).toBe(30);
  });
});
