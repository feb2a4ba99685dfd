import { describe, expect, it } from 'vitest';
import { hubIdProblem, hubSource } from './sources';

// The Hub's own rules (huggingface_hub.utils.validate_repo_id), case by case.
const VALID = ['HuggingFaceTB/SmolVLM-256M-Instruct', 'Xenova/clip-vit-base-patch32', 'gpt2', 'user/Foo-BAR_foo.bar123', '0-hero/OIG-small-chip2', `o/${'a'.repeat(96)}`, '_a/_b_'];

const INVALID: [string, RegExp][] = [
  ['', /empty/],
  ['not a valid id!!', /contains " "/],
  ['org/name!', /contains "!"/],
  ['org/näme', /contains "ä"/],
  ['a/b/c', /more than one "\/"/],
  ['/name', /empty/],
  ['org/', /empty/],
  ['org/a--b', /"--" and "\.\." are not allowed/],
  ['../etc', /"--" and "\.\." are not allowed/],
  ['org/-name', /starts or ends with "-" or "\."/],
  ['org/name-', /starts or ends with "-" or "\."/],
  ['.org/name', /starts or ends with "-" or "\."/],
  ['org/name.', /starts or ends with "-" or "\."/],
  [`o/${'a'.repeat(97)}`, /97 characters; at most 96/],
  ['org/name.git', /ends with "\.git"/],
];

describe('Hugging Face repo ids', () => {
  it.each(VALID)('accepts %j', (id) => {
    expect(hubIdProblem(id)).toBeNull();
    expect(() => hubSource(id, { cache: null })).not.toThrow();
  });

  it.each(INVALID)('rejects %j, saying why, before any request', (id, reason) => {
    expect(hubIdProblem(id)).toMatch(reason);
    const requests: string[] = [];
    const fetch = (url: string) => {
      requests.push(url);
      return Promise.resolve(new Response('{}'));
    };
    expect(() => hubSource(id, { cache: null, fetch })).toThrow(new RegExp(`invalid Hugging Face model id ${JSON.stringify(id).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: .*${reason.source}`));
    expect(requests).toEqual([]);
  });
});
