import { describe, expect, it } from 'vitest';
import { describeLoadFailure } from './loadErrors';
import { ModelFileError } from './sources';

describe('describeLoadFailure', () => {
  it('keeps a missing file\'s message, which names the file and the HTTP status', () => {
    const err = new ModelFileError('model a/b has no file config.json (HTTP 404 at https://x/a/b/resolve/main/config.json)', {
      reason: 'missing',
      file: 'config.json',
      source: 'a/b',
      status: 404,
    });
    expect(describeLoadFailure(err)).toBe(err.message);
  });

  it('points an offline user to the offline ways of loading', () => {
    const err = new ModelFileError('model a/b: could not download config.json from https://x: network error (Failed to fetch).', {
      reason: 'network',
      file: 'config.json',
      source: 'a/b',
    });
    expect(describeLoadFailure(err)).toMatch(/offline, pick a local model folder or a bundled model/);
  });

  it('says out-of-memory in words, and blocked cross-origin downloads too', () => {
    expect(describeLoadFailure(new Error('RangeError: Array buffer allocation failed'))).toMatch(/^Not enough memory for this model/);
    expect(describeLoadFailure(new Error('WebGPU out of memory while creating a buffer'))).toMatch(/Try a smaller model/);
    expect(describeLoadFailure(new TypeError('Failed to fetch'))).toMatch(/blocked .* cross-origin requests; a local folder works offline/);
  });

  it('passes other messages through (they already name the problem, e.g. an unsupported model_type)', () => {
    const message = 'unsupported model_type "bert"; supported: idefics3, smolvlm, llama';
    expect(describeLoadFailure(new Error(message))).toBe(message);
    expect(describeLoadFailure('plain string')).toBe('plain string');
  });
});
