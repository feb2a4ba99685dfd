import { parseArgs } from 'node:util';
import { RawImage } from '@huggingface/transformers';
import { loadTfjsEngine } from '../../src/models/tfjs/engine';
import { nodeFolderSource } from '../lib/nodeModelSource';
import { requiredString, UsageError, type Command } from './args';

export const logprobsCommand: Command = {
  usage: `logprobs --model DIR [--image PNG] --prompt TEXT --response TEXT [--response TEXT ...] [--reference]
      per-token log-probs of each response, teacher-forced through the model's chat template; prints
      { inputIds, responseStart, tokens: [{ id, text, start, end, logp }], total } (an array for several
      --response). --reference turns the LoRA adapters off.`,
  async run(args) {
    const { values } = parseArgs({
      args,
      options: {
        model: { type: 'string' },
        image: { type: 'string' },
        prompt: { type: 'string' },
        response: { type: 'string', multiple: true },
        reference: { type: 'boolean', default: false },
      },
    });
    const responses = values.response ?? [];
    if (responses.length === 0) throw new UsageError('--response is required');
    const prompt = requiredString(values, 'prompt');
    const engine = await loadTfjsEngine(nodeFolderSource(requiredString(values, 'model')));
    try {
      const image = values.image ? await RawImage.read(values.image) : undefined;
      const scored = await engine.logprobs({ image, prompt, responses, adapters: !values.reference });
      const out = scored.map(({ inputIds, responseStart, tokens, total }) => ({ inputIds, responseStart, tokens, total }));
      return out.length === 1 ? out[0] : out;
    } finally {
      engine.dispose();
    }
  },
};
