import { parseArgs } from 'node:util';
import type { RawImage } from '@huggingface/transformers';
import { integerOption, numberOption, requiredString, SEED_RANGE, UsageError, type Command } from './args';
import { BACKEND_HELP } from './backend';
import { ENGINE_HELP, ENGINE_OPTIONS, ENGINE_USAGE, engineChoice, loadEngine, MAX_NEW_TOKENS } from './engine';
import { readImage } from './train';

export const DEFAULT_MAX_NEW_TOKENS = 64;

/** --sample's options, refused without --sample rather than silently ignored by greedy decoding. */
function sampling(values: Record<string, unknown>): { greedy: boolean; temperature?: number; topP?: number; seed?: number } {
  const given = ['temperature', 'top-p', 'seed'].filter((name) => values[name] !== undefined);
  if (!values.sample) {
    if (given.length > 0) throw new UsageError(`--${given[0]} applies to sampling; add --sample (generation is greedy without it)`);
    return { greedy: true };
  }
  const temperature = numberOption(values, 'temperature', 1);
  if (!(temperature > 0)) throw new UsageError(`--temperature must be above 0, got "${String(values.temperature)}"`);
  const topP = numberOption(values, 'top-p', 1);
  if (!(topP > 0 && topP <= 1)) throw new UsageError(`--top-p must lie in (0, 1], got "${String(values['top-p'])}"`);
  return { greedy: false, temperature, topP, seed: integerOption(values, 'seed', SEED_RANGE) ?? 0 };
}

export const generateCommand: Command = {
  usage: `generate ${ENGINE_USAGE}
      [--image PNG] --prompt TEXT [--max-new-tokens N] [--sample [--temperature T] [--top-p P] [--seed S]]
      the model's answer to the prompt (with the image) through its chat template: greedy unless --sample, which
      samples from softmax(logits / T) within the top-p nucleus (defaults T 1, P 1, seed 0; both engines draw with
      the same seeded generator); at most N new tokens (default ${DEFAULT_MAX_NEW_TOKENS}, up to ${MAX_NEW_TOKENS}; the window stops it earlier).
      Prints { text, tokens: [{ id, text }], stop: "eos"|"length", backend: { name, threads? } }; tokens are every
      token generated, the end of the turn included, each decoded on its own; text leaves out special tokens.
      ${ENGINE_HELP}
      ${BACKEND_HELP}`,
  async run(args) {
    const { values } = parseArgs({
      args,
      options: {
        ...ENGINE_OPTIONS,
        image: { type: 'string' },
        prompt: { type: 'string' },
        'max-new-tokens': { type: 'string' },
        sample: { type: 'boolean', default: false },
        temperature: { type: 'string' },
        'top-p': { type: 'string' },
        seed: { type: 'string' },
      },
    });
    const choice = engineChoice(values);
    const prompt = requiredString(values, 'prompt');
    const maxNewTokens = integerOption(values, 'max-new-tokens', { min: 1, max: MAX_NEW_TOKENS }) ?? DEFAULT_MAX_NEW_TOKENS;
    const decoding = sampling(values);
    let image: RawImage | undefined;
    if (values.image !== undefined) {
      try {
        image = await readImage(requiredString(values, 'image'));
      } catch (err) {
        throw new Error(`--image: ${(err as Error).message}`);
      }
    }
    const { engine, backend } = await loadEngine(choice);
    try {
      const tokens: { id: number; text: string }[] = [];
      const result = await engine.generate({ image, prompt, maxNewTokens, ...decoding, onToken: (t) => tokens.push(t) });
      return { text: result.text, tokens, stop: result.stop, backend };
    } finally {
      engine.dispose();
    }
  },
};
