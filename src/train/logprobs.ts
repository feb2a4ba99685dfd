/**
 * Per-token log-probs of responses for training: the same quantity as `TfjsEngine.responseLogprobs`
 * (`ℓ_t = log π(y_t | I, q, y_<t)` for each response token, the end-of-turn token included), computed so that
 * its gradient is cheap:
 *
 * - the language-model head runs only at the response positions (not over the prompt and image tokens);
 * - the target token's logit is picked with a one-hot product instead of a `gather` over the flattened
 *   `[B·T·V]` logits, whose gradient is an `UnsortedSegmentSum` over B·T·V segments — on TF.js' CPU backend
 *   that alone took ≈2.5 s of a 2.6 s step on the tiny SmolVLM, the one-hot product takes milliseconds.
 *
 * Values are identical to the engine's (same ops on the same logits; checked in the tests).
 */
import * as tf from '@tensorflow/tfjs';
import type { EncodedPrompt, TfjsEngine } from '../models/tfjs/engine';
import type { Idefics3Model } from '../models/tfjs/idefics3';
import type { LlamaModel } from '../models/tfjs/llama';

/** One response after the prompt: its token ids (possibly truncated), end-of-turn token included if kept. */
export interface ResponseIds {
  ids: number[];
}

/**
 * `[B, W]` log-probs, row b holding the `responses[b].ids.length` response tokens and 0 after them
 * (W = the longest response). Differentiable in the LoRA variables when `lora` is true.
 */
export function trainingLogprobs(engine: TfjsEngine, encoded: EncodedPrompt, responses: ResponseIds[], lora: boolean): tf.Tensor2D {
  const promptLen = encoded.promptIds.length;
  if (promptLen < 1) throw new Error('the prompt has no tokens');
  const width = Math.max(...responses.map((r) => r.ids.length));
  if (!(width >= 1)) throw new Error('every response needs at least one token');
  const longest = promptLen + width;
  const inputIds = responses.map((r) => [...encoded.promptIds, ...r.ids, ...new Array<number>(width - r.ids.length).fill(0)]);
  const attentionMask = responses.map((r) => new Array<number>(promptLen + r.ids.length).fill(1).concat(new Array<number>(width - r.ids.length).fill(0)));
  const targets = new Int32Array(responses.length * width);
  const mask = new Float32Array(responses.length * width);
  responses.forEach((r, b) =>
    r.ids.forEach((id, k) => {
      targets[b * width + k] = id;
      mask[b * width + k] = 1;
    }),
  );
  const multimodal = engine.config.modelType === 'idefics3';
  const text: LlamaModel = multimodal ? (engine.model as Idefics3Model).text : (engine.model as LlamaModel);
  return tf.tidy(() => {
    let embeds: tf.Tensor3D;
    if (multimodal) {
      const features = encoded.imageFeatures ? (tf.tile(encoded.imageFeatures, [responses.length, 1, 1]) as tf.Tensor3D) : undefined;
      embeds = (engine.model as Idefics3Model).embedInputs(inputIds, features);
    } else {
      embeds = text.embed(inputIds);
    }
    const hidden = text.hidden(embeds, { attentionMask, lora });
    // The hidden state at position p predicts token p + 1: response token k (at promptLen + k) is predicted at promptLen − 1 + k.
    const d = hidden.shape[2];
    const atResponse = tf.slice(hidden, [0, promptLen - 1, 0], [responses.length, Math.min(width, longest - promptLen + 1), d]) as tf.Tensor3D;
    const logits = text.logits(atResponse);
    const v = logits.shape[2];
    const flat = logits.reshape([responses.length * width, v]);
    const picked = tf.sum(tf.mul(flat, tf.oneHot(tf.tensor1d(targets, 'int32'), v, 1, 0, 'float32')), -1);
    const lse = tf.logSumExp(flat, -1);
    return tf.mul(tf.sub(picked, lse), tf.tensor1d(mask)).reshape([responses.length, width]) as tf.Tensor2D;
  });
}
