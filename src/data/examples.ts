/** Numbers a user can set for one sentence in the Inspect tab: summed log-probs over its tokens. */
export interface SentenceNumbers {
  /** CLIP image–text similarity S_i. */
  similarity: number;
  /** Σ_t ℓ^θ_t over the sentence's tokens. */
  policyLogp: number;
  /** Σ_t ℓ^ref_t over the sentence's tokens. */
  refLogp: number;
  /** n_i, the sentence's token count (sentence perplexity averages over it). */
  tokens: number;
}

export interface ExamplePair {
  id: string;
  title: string;
  prompt: string;
  chosen: string;
  rejected: string;
  chosenNumbers: SentenceNumbers[];
  rejectedNumbers: SentenceNumbers[];
}

/**
 * Hand-made pairs in the shape of the paper's SeVa data (clean image → chosen, noised image → rejected).
 * The numbers are illustrative, picked so that policy and reference differ as after some training steps.
 */
export const EXAMPLE_PAIRS: ExamplePair[] = [
  {
    id: 'dog-park',
    title: 'Dog in a park (a hallucinated cat)',
    prompt: 'Describe the image in detail.',
    chosen:
      'A brown dog is running across a grassy park. It carries a red frisbee in its mouth. Two tall trees stand in the background.',
    rejected:
      'A brown dog is running across a grassy park. It is chasing a small cat near a bench. A man in a blue coat is throwing a ball.',
    chosenNumbers: [
      { similarity: 0.312, policyLogp: -9.1, refLogp: -9.6, tokens: 10 },
      { similarity: 0.287, policyLogp: -7.4, refLogp: -8.3, tokens: 9 },
      { similarity: 0.241, policyLogp: -9.8, refLogp: -9.9, tokens: 7 },
    ],
    rejectedNumbers: [
      { similarity: 0.309, policyLogp: -9.3, refLogp: -9.6, tokens: 10 },
      { similarity: 0.205, policyLogp: -12.9, refLogp: -11.7, tokens: 10 },
      { similarity: 0.188, policyLogp: -15.2, refLogp: -14.1, tokens: 11 },
    ],
  },
  {
    id: 'kitchen-count',
    title: 'Kitchen counter (counting and reasoning)',
    prompt: 'How many cups are on the counter, and what else is there?',
    chosen:
      'There are three cups on the counter. Next to them is a kettle, e.g. for making tea. The window lets in daylight, so it is probably morning.',
    rejected:
      'There are five cups on the counter. Next to them is a toaster and a bowl of 3.5 apples. It is late at night.',
    chosenNumbers: [
      { similarity: 0.296, policyLogp: -6.2, refLogp: -7.0, tokens: 8 },
      { similarity: 0.271, policyLogp: -11.5, refLogp: -12.1, tokens: 13 },
      { similarity: 0.228, policyLogp: -14.9, refLogp: -15.3, tokens: 15 },
    ],
    rejectedNumbers: [
      { similarity: 0.262, policyLogp: -8.8, refLogp: -8.1, tokens: 8 },
      { similarity: 0.214, policyLogp: -17.6, refLogp: -16.2, tokens: 15 },
      { similarity: 0.171, policyLogp: -7.9, refLogp: -7.4, tokens: 6 },
    ],
  },
  {
    id: 'one-sentence',
    title: 'One sentence each (ASPO equals DPO)',
    prompt: 'What colour is the bus?',
    chosen: 'The bus is bright yellow.',
    rejected: 'The bus is dark green.',
    chosenNumbers: [{ similarity: 0.301, policyLogp: -5.1, refLogp: -5.9, tokens: 6 }],
    rejectedNumbers: [{ similarity: 0.233, policyLogp: -7.2, refLogp: -6.6, tokens: 6 }],
  },
];
