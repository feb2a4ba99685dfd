import { create } from 'zustand';
import { persist } from 'zustand/middleware';
import type { Granularity, Normalization, PerplexitySource } from '../aspo';
import type { ScoredResponse } from '../ui/calculator/compute';
import { EXAMPLE_PAIRS, type ExamplePair, type SentenceNumbers } from '../data/examples';

export type Side = 'chosen' | 'rejected';

export interface CalculatorState {
  prompt: string;
  chosen: string;
  rejected: string;
  chosenNumbers: SentenceNumbers[];
  rejectedNumbers: SentenceNumbers[];
  alpha: number;
  beta: number;
  normalization: Normalization;
  perplexitySource: PerplexitySource;
  granularity: Granularity;
  /** The pair's image, downscaled, as a data URL (kept across reloads). */
  image: { dataUrl: string; name: string } | null;
  /** A model's per-token scores of each response; ignored once the response text changes. */
  scored: { chosen?: ScoredResponse; rejected?: ScoredResponse };
  /** Which sentences CLIP saw truncated, per side. */
  truncated: { chosen: boolean[]; rejected: boolean[] };
  /** The sentence whose equations are spelled out with numbers. */
  focus: { side: Side; index: number };
  setText: (field: 'prompt' | Side, text: string) => void;
  /** `current` is the full list the UI shows (stored values plus defaults), so one edit never drops the others. */
  setNumber: (side: Side, index: number, field: keyof SentenceNumbers, value: number, current: SentenceNumbers[]) => void;
  setSetting: <K extends 'alpha' | 'beta' | 'normalization' | 'perplexitySource' | 'granularity'>(
    key: K,
    value: CalculatorState[K],
  ) => void;
  setImage: (image: CalculatorState['image']) => void;
  /** Numbers, tokens and truncation flags that a model produced for the current texts. */
  setScores: (scores: Pick<CalculatorState, 'chosenNumbers' | 'rejectedNumbers' | 'scored' | 'truncated'>) => void;
  setFocus: (side: Side, index: number) => void;
  loadExample: (example: ExamplePair) => void;
}

const first = EXAMPLE_PAIRS[0];

export const useCalculator = create<CalculatorState>()(
  persist(
    (set) => ({
      prompt: first.prompt,
      chosen: first.chosen,
      rejected: first.rejected,
      chosenNumbers: first.chosenNumbers,
      rejectedNumbers: first.rejectedNumbers,
      alpha: 0.5,
      beta: 0.1,
      normalization: 'mean',
      perplexitySource: 'policy',
      granularity: 'sentence',
      image: null,
      scored: {},
      truncated: { chosen: [], rejected: [] },
      focus: { side: 'chosen', index: 0 },
      setText: (field, text) => set({ [field]: text }),
      setNumber: (side, index, field, value, current) =>
        set((state) => {
          const next = current.map((n, i) => (i === index ? { ...n, [field]: value } : n));
          // A hand-set number overrides what the model said about this response.
          const scored = { ...state.scored, [side]: undefined };
          return side === 'chosen' ? { chosenNumbers: next, scored } : { rejectedNumbers: next, scored };
        }),
      setSetting: (key, value) => set({ [key]: value }),
      setFocus: (side, index) => set({ focus: { side, index } }),
      setImage: (image) => set({ image, scored: {} }),
      setScores: (scores) => set(scores),
      loadExample: (example) =>
        set({
          prompt: example.prompt,
          chosen: example.chosen,
          rejected: example.rejected,
          chosenNumbers: example.chosenNumbers,
          rejectedNumbers: example.rejectedNumbers,
          scored: {},
          truncated: { chosen: [], rejected: [] },
          focus: { side: 'chosen', index: 0 },
        }),
    }),
    { name: 'aspo-workbench/calculator', version: 2, migrate: (old) => old as CalculatorState },
  ),
);
