/**
 * The sandbox evaluation against figures worked out by hand: a scripted engine gives known descriptions and
 * answers (and log-probs from a rule), the sandbox CLIP gives S_i, and every figure is recomputed here from those
 * texts and numbers without the evaluation's code path (the judge's verdicts are the only shared piece).
 */
import { join } from 'node:path';
import { RawImage } from '@huggingface/transformers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FIXTURE_MODELS, nodeFolderSource } from '../../../scripts/lib/nodeModelSource';
import { splitSentences } from '../../aspo';
import { loadClipScorer, type ClipScorer } from '../../models/clip';
import type { GenerateRequest, LogprobsRequest, MllmEngine, ResponseLogprobs } from '../../models/engine';
import { imageKey } from '../../models/imageKey';
import { countQuestion, descriptionSentences, DESCRIBE_PROMPT, existsQuestion } from '../../sandbox/captions';
import { judgeDescription } from '../../sandbox/judge';
import { renderScene } from '../../sandbox/render';
import { HELD_OUT_SET } from '../../sandbox/splits';
import { evaluateSandbox, type SandboxEvalProgress } from './evaluate';

const SCENES = HELD_OUT_SET.slice(0, 2);
// Scene 0: a yellow circle on the left, two green triangles on the right, white. Scene 1: one red triangle, black.
const DESCRIPTIONS = [
  'There is one yellow circle. The yellow circle is on the right. There are two green triangles. The background is white. Lovely.',
  'There is one red triangle. The background is black.',
];
const ALPHA = 0.3;

const image = (i: number) => {
  const p = renderScene(SCENES[i].scene, SCENES[i].seed);
  return new RawImage(p.data, p.width, p.height, p.channels);
};
const sceneOf = new Map(SCENES.map((_, i) => [imageKey(image(i)), i]));

/** One token per word (its trailing space included), log-prob −(letters)/10, then an end-of-turn token at −0.5. */
function wordLogprobs(text: string): ResponseLogprobs {
  const words = [...text.matchAll(/\S+\s*/g)];
  const tokens = [
    ...words.map((m, k) => ({ id: k, text: m[0], start: m.index!, end: m.index! + m[0].length, logp: -m[0].trim().length / 10 })),
    { id: 99, text: '<end_of_utterance>', start: text.length, end: text.length, logp: -0.5 },
  ];
  return { inputIds: [], responseStart: 0, tokens, total: tokens.reduce((s, t) => s + t.logp, 0), eosIndex: tokens.length - 1, fullLength: tokens.length, cut: null };
}

/** Describes as DESCRIPTIONS says, answers every yes/no question `Yes.`, how-many `One.` on scene 0 and `Many.` on scene 1. */
const engine: MllmEngine = {
  kind: 'tfjs',
  contextLength: 512,
  label: 'scripted model',
  logprobs: async (r: LogprobsRequest) => r.responses.map(wordLogprobs),
  generate: async (r: GenerateRequest) => {
    const i = sceneOf.get(imageKey(r.image!))!;
    const text = r.prompt === DESCRIBE_PROMPT ? DESCRIPTIONS[i] : r.prompt.startsWith('Is there') ? 'Yes.' : i === 0 ? 'One.' : 'Many.';
    return { ids: [], text, stop: 'eos' };
  },
  dispose: () => undefined,
};

let clip: ClipScorer;
beforeAll(async () => {
  clip = await loadClipScorer(nodeFolderSource(join(FIXTURE_MODELS, 'sandbox-clip')), { device: 'cpu' });
});
afterAll(() => clip.dispose());

/** AUROC by its definition: over every (correct, hallucinated) pair, 1 when the correct scores higher, ½ for a tie. */
function pairwiseAuroc(pos: number[], neg: number[]): number {
  let wins = 0;
  for (const p of pos) for (const n of neg) wins += p > n ? 1 : p === n ? 0.5 : 0;
  return wins / (pos.length * neg.length);
}

/** Ŝ, P̂, w of each sentence of a description from Eqs. 7–10 written out, and its verdict. */
async function byHand(i: number, text: string) {
  const spans = splitSentences(text);
  const s = (await clip.similarity(image(i), spans.map((x) => x.text.trim()))).map((r) => r.similarity);
  const ppl = spans.map((span, k) => {
    const logps = span.text.trim().split(' ').map((w) => -w.length / 10);
    if (k === spans.length - 1) logps.push(-0.5);
    return Math.exp(-logps.reduce((a, b) => a + b, 0) / logps.length);
  });
  const [sMin, sMax, pMin, pMax] = [Math.min(...s), Math.max(...s), Math.min(...ppl), Math.max(...ppl)];
  const verdicts = judgeDescription(SCENES[i].scene, text).sentences.map((x) => x.verdict);
  return spans.map((_, k) => {
    // Equal values carry no ranking and all map to 0 (Eq. 7 has 0/0 there).
    const simNorm = sMax > sMin ? (s[k] - sMin) / (sMax - sMin) : 0;
    const pplNorm = pMax > pMin ? (pMax - ppl[k]) / (pMax - pMin) : 0;
    return { verdict: verdicts[k], simNorm, pplNorm, weight: ALPHA * simNorm + (1 - ALPHA) * pplNorm };
  });
}

function separationByHand(rows: { verdict: string; simNorm: number; pplNorm: number; weight: number }[]) {
  const pos = rows.filter((r) => r.verdict === 'correct');
  const neg = rows.filter((r) => r.verdict === 'hallucinated');
  const area = (k: 'simNorm' | 'pplNorm' | 'weight') => pairwiseAuroc(pos.map((r) => r[k]), neg.map((r) => r[k]));
  return { correct: pos.length, hallucinated: neg.length, simNorm: area('simNorm'), pplNorm: area('pplNorm'), weight: area('weight') };
}

function close(got: Record<string, number | null>, want: Record<string, number>) {
  for (const [k, v] of Object.entries(want)) expect(got[k], k).toBeCloseTo(v, 10);
}

describe('evaluateSandbox', () => {
  it('gives the judge, POPE and how-many figures of the answers, counted by hand', async () => {
    const r = await evaluateSandbox({ engine, clip, scenes: SCENES, seed: 5, settings: { alpha: ALPHA } });
    expect(r.perScene.map((s) => s.greedy.text)).toEqual(DESCRIPTIONS);
    // 7 sentences: 5 correct, 1 hallucinated (side), 1 unparsed; facts 5 + 2, stated 3 + 2.
    expect(r.descriptions).toEqual({
      descriptions: 2,
      sentences: 7,
      claims: 6,
      chairS: 1 / 2,
      chairI: 1 / 6,
      recall: 5 / 7,
      unparsed: 1 / 7,
      kinds: { colour: 0, shape: 0, count: 0, side: 1, background: 0, 'absent-object': 0 },
    });
    expect(r.cutDescriptions).toBe(0);
    // Probes: one yes per group and as many no; all answered yes.
    expect(r.perScene.map((s) => s.yesNo.map((q) => q.truth))).toEqual([
      [true, true, false, false],
      [true, false],
    ]);
    expect(r.perScene[0].yesNo.slice(0, 2).map((q) => q.question)).toEqual([existsQuestion('yellow', 'circle'), existsQuestion('green', 'triangle')]);
    expect(r.yesNo).toEqual({ probes: 6, accuracy: 3 / 6, precision: 3 / 6, recall: 1, f1: 2 / 3, yesRatio: 1, unparsed: 0 });
    // How many: the same pairs; scene 0's answers "One." are right for the yellow circle only, scene 1's are unparsed.
    expect(r.perScene[0].howMany.map((q) => [q.question, q.truth])).toEqual(
      r.perScene[0].yesNo.map((q, k) => [q.question.replace(/^Is there a (\w+) (\w+)\?$/, (_, c, s) => countQuestion(c, s)), [1, 2, 0, 0][k]]),
    );
    expect(r.howMany).toEqual({ questions: 6, accuracy: 1 / 6, unparsed: 2 });
  });

  it("scores a corrupted correct description per scene, and gives the AUROCs of Ŝ, P̂ and w worked out from Eqs. 7–10", async () => {
    const r = await evaluateSandbox({ engine, clip, scenes: SCENES, seed: 5, settings: { alpha: ALPHA } });
    for (const [i, s] of r.perScene.entries()) {
      const judged = judgeDescription(SCENES[i].scene, s.corrupted.text).sentences;
      expect(judged.filter((x) => x.verdict === 'hallucinated').map((x) => x.kind)).toEqual([s.corrupted.corruption.kind]);
      expect(judged.filter((x) => x.verdict === 'correct')).toHaveLength(descriptionSentences(SCENES[i].scene).length - (s.corrupted.corruption.replaced ? 1 : 0));
    }
    const greedy = [...(await byHand(0, DESCRIPTIONS[0])), ...(await byHand(1, DESCRIPTIONS[1]))];
    const corrupted = [...(await byHand(0, r.perScene[0].corrupted.text)), ...(await byHand(1, r.perScene[1].corrupted.text))];
    const shown = r.perScene.flatMap((s) => s.greedy.sentences);
    shown.forEach((row, k) => {
      expect(row.verdict).toBe(greedy[k].verdict);
      expect(row.weight).toBeCloseTo(greedy[k].weight, 10);
      expect(row.simNorm).toBeCloseTo(greedy[k].simNorm, 10);
    });
    close({ ...r.separation.greedy }, separationByHand(greedy));
    close({ ...r.separation.pooled }, separationByHand([...greedy, ...corrupted]));
    expect(r.separation.greedy).toMatchObject({ correct: 5, hallucinated: 1 });
    expect(r.settings.alpha).toBe(ALPHA);
  });

  it('evaluates the first scenes alike whatever the scene count; null AUROCs without hallucinations', async () => {
    const one = await evaluateSandbox({ engine, clip, scenes: SCENES.slice(1), seed: 5 });
    const both = await evaluateSandbox({ engine, clip, scenes: SCENES, seed: 5 });
    const first = await evaluateSandbox({ engine, clip, scenes: SCENES.slice(0, 1), seed: 5 });
    expect(first.perScene[0]).toEqual(both.perScene[0]);
    // Scene 1's description is all correct: the greedy descriptions alone have no hallucinated class.
    expect(one.separation.greedy).toEqual({ correct: 2, hallucinated: 0, simNorm: null, pplNorm: null, weight: null });
    expect(one.separation.pooled.hallucinated).toBe(1);
  });

  it('takes a description without a sentence as one with nothing to weigh, and still scores the corrupted one', async () => {
    const silent: MllmEngine = { ...engine, generate: async (r) => (r.prompt === DESCRIBE_PROMPT ? { ids: [], text: '', stop: 'eos' } : engine.generate(r)) };
    const r = await evaluateSandbox({ engine: silent, clip, scenes: SCENES.slice(0, 1), seed: 5, settings: { alpha: ALPHA } });
    const both = await evaluateSandbox({ engine, clip, scenes: SCENES.slice(0, 1), seed: 5, settings: { alpha: ALPHA } });
    expect(r.perScene[0].greedy).toEqual({ text: '', sentences: [], stop: 'eos' });
    expect(r.descriptions).toMatchObject({ descriptions: 1, sentences: 0, chairS: 0, recall: 0, unparsed: null });
    expect(r.perScene[0].corrupted).toEqual(both.perScene[0].corrupted);
    close({ ...r.separation.pooled }, separationByHand(await byHand(0, both.perScene[0].corrupted.text)));
  });

  it('reports progress scene by scene and stops with an AbortError when aborted', async () => {
    const seen: SandboxEvalProgress[] = [];
    await evaluateSandbox({ engine, clip, scenes: SCENES, onProgress: (p) => seen.push(p) });
    expect(seen[0]).toEqual({ done: 0, total: 2, stage: 'scene 1 of 2: description' });
    expect(seen.at(-1)).toEqual({ done: 2, total: 2, stage: 'done' });
    expect(seen.map((p) => p.done)).toEqual([...seen.map((p) => p.done)].sort());

    const controller = new AbortController();
    const asked: string[] = [];
    const counting: MllmEngine = { ...engine, generate: (r) => (asked.push(r.prompt), engine.generate(r)) };
    const run = evaluateSandbox({
      engine: counting,
      clip,
      scenes: SCENES,
      signal: controller.signal,
      onProgress: (p) => p.stage.endsWith('yes/no questions') && controller.abort(),
    });
    await expect(run).rejects.toMatchObject({ name: 'AbortError' });
    expect(asked).toEqual([DESCRIBE_PROMPT]);
  });
});
