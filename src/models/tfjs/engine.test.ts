import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FIXTURE_MODELS, fixtureSource } from '../../../scripts/lib/nodeModelSource';
import { startModelMirror, type ModelMirror } from '../../../scripts/lib/modelMirror';
import { hubSource, memoryCache, urlPrefixSource } from '../sources';
import { loadTfjsEngine, type TfjsEngine } from './engine';
import { squareImage } from '../../../tests/setup/images';
import { useTestBackend } from '../../../tests/setup/testBackend';

beforeAll(useTestBackend);

const PROMPT = 'What is in the picture?';
const RESPONSES = ['A red square. It sits on blue.', 'A green circle!'];

let mirror: ModelMirror;
let vlm: TfjsEngine;
let llm: TfjsEngine;

beforeAll(async () => {
  mirror = await startModelMirror(FIXTURE_MODELS);
  vlm = await loadTfjsEngine(fixtureSource('tiny-smolvlm'));
  llm = await loadTfjsEngine(fixtureSource('tiny-smollm2'));
});

afterAll(async () => {
  vlm.dispose();
  llm.dispose();
  await mirror.close();
});

describe('TF.js engine', () => {
  it('loads the same model through a picked folder, a bundled URL prefix and a hub mirror, with a cached second hub load', async () => {
    const expected = await vlm.logprobs({ prompt: PROMPT, responses: RESPONSES });
    const cache = memoryCache();
    const progress: number[] = [];
    const sources = [
      urlPrefixSource(`${mirror.url}/models/tiny-smolvlm/`),
      hubSource('test-org/tiny-smolvlm', { endpoint: mirror.url, cache }),
    ];
    for (const source of sources) {
      const engine = await loadTfjsEngine(source, { onProgress: (p) => progress.push(p.loaded) });
      const got = await engine.logprobs({ prompt: PROMPT, responses: RESPONSES });
      engine.dispose();
      expect(got).toEqual(expected);
    }
    expect(progress.length).toBeGreaterThan(0);
    const before = mirror.hits.length;
    const again = await loadTfjsEngine(hubSource('test-org/tiny-smolvlm', { endpoint: mirror.url, cache }));
    again.dispose();
    expect(mirror.hits.slice(before)).toEqual([]);
  });

  it('errors name the missing file and the HTTP status', async () => {
    await expect(loadTfjsEngine(hubSource('test-org/no-such-model', { endpoint: mirror.url, cache: memoryCache() }))).rejects.toThrow(
      /no-such-model has no file config\.json \(HTTP 404/,
    );
  });

  it('scores only response tokens, ending with the end-of-turn token, and their log-probs sum to the total', async () => {
    for (const engine of [vlm, llm]) {
      const [a] = await engine.logprobs({ prompt: PROMPT, responses: [RESPONSES[0]] });
      expect(a.inputIds.slice(a.responseStart)).toEqual(a.tokens.map((t) => t.id));
      expect(a.tokens[a.eosIndex].id).toBe(engine.format.endOfTurnId);
      expect(a.eosIndex).toBe(a.tokens.length - 1);
      expect(a.total).toBeCloseTo(a.tokens.reduce((s, t) => s + t.logp, 0), 10);
      for (const t of a.tokens) expect(t.logp).toBeLessThan(0);
    }
  });

  it('the log-prob of each token equals the log-softmax of the full forward at the previous position', async () => {
    const [scored] = await vlm.logprobs({ prompt: PROMPT, responses: [RESPONSES[1]] });
    const logits = vlm.model.forward({ inputIds: [scored.inputIds] });
    const values = (await logits.data()) as Float32Array;
    const vocab = logits.shape[2];
    logits.dispose();
    scored.tokens.forEach((token, k) => {
      const row = values.subarray((scored.responseStart + k - 1) * vocab, (scored.responseStart + k) * vocab);
      let max = -Infinity;
      for (const v of row) max = Math.max(max, v);
      let sum = 0;
      for (const v of row) sum += Math.exp(v - max);
      expect(token.logp).toBeCloseTo(row[token.id] - max - Math.log(sum), 4);
    });
  });

  it('a batch equals its members scored alone, with and without an image', async () => {
    for (const image of [undefined, squareImage()]) {
      const batch = await vlm.logprobs({ prompt: PROMPT, responses: RESPONSES, image });
      for (let i = 0; i < RESPONSES.length; i++) {
        const [alone] = await vlm.logprobs({ prompt: PROMPT, responses: [RESPONSES[i]], image });
        expect(batch[i].tokens.map((t) => t.id)).toEqual(alone.tokens.map((t) => t.id));
        batch[i].tokens.forEach((t, k) => expect(t.logp).toBeCloseTo(alone.tokens[k].logp, 4));
      }
    }
  });

  it('the image changes the log-probs, and its tokens are expanded in the prompt', async () => {
    const [withImage] = await vlm.logprobs({ prompt: PROMPT, responses: [RESPONSES[0]], image: squareImage() });
    const [without] = await vlm.logprobs({ prompt: PROMPT, responses: [RESPONSES[0]] });
    const imageTokens = withImage.inputIds.filter((id) => id === 697).length;
    expect(imageTokens).toBe(4);
    expect(withImage.tokens.map((t) => t.id)).toEqual(without.tokens.map((t) => t.id));
    expect(Math.abs(withImage.total - without.total)).toBeGreaterThan(1e-4);
  });

  it('adapters off is the reference model, also after training steps on the adapters', async () => {
    const engine = await loadTfjsEngine(fixtureSource('tiny-smollm2'), { lora: { r: 4, alpha: 8 } });
    const request = { prompt: PROMPT, responses: RESPONSES };
    const reference = await engine.logprobs({ ...request, adapters: false });
    const initial = await engine.logprobs(request);
    expect(initial).toEqual(reference);
    const encoded = await engine.encodePrompt(PROMPT);
    const batch = RESPONSES.map((r) => engine.encodeResponse(encoded, PROMPT, r));
    const optimizer = tf.train.adam(0.05);
    for (let step = 0; step < 3; step++) {
      optimizer.minimize(() => engine.responseLogprobs(encoded, batch.map((b) => b.tokens), true).sum().neg() as tf.Scalar);
    }
    optimizer.dispose();
    const trained = await engine.logprobs(request);
    const referenceAfter = await engine.logprobs({ ...request, adapters: false });
    expect(referenceAfter).toEqual(reference);
    expect(trained[0].total).toBeGreaterThan(reference[0].total + 1e-3);
    engine.dispose();
  });

  it('twenty calls leave the number of tensors unchanged', async () => {
    const request = { prompt: PROMPT, responses: RESPONSES, image: squareImage() };
    await vlm.logprobs(request);
    const before = tf.memory().numTensors;
    for (let i = 0; i < 20; i++) await vlm.logprobs(request);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('greedy generation with the KV cache equals argmax decoding by full recomputation', async () => {
    const streamed: number[] = [];
    const result = await llm.generate({ prompt: PROMPT, maxNewTokens: 6, greedy: true, onToken: (t) => streamed.push(t.id) });
    expect(streamed).toEqual(result.ids);
    const encoded = await llm.encodePrompt(PROMPT);
    const ids = [...encoded.promptIds];
    for (let i = 0; i < result.ids.length; i++) {
      const logits = llm.model.forward({ inputIds: [ids] });
      const last = logits.slice([0, ids.length - 1, 0], [1, 1, logits.shape[2]]).reshape([-1]);
      const next = (await last.argMax().data())[0];
      tf.dispose([logits, last]);
      expect(result.ids[i]).toBe(next);
      ids.push(next);
    }
  });
});
