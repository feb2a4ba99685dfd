import { create } from 'zustand';
import { persist } from 'zustand/middleware';
import type { Normalization, PerplexitySource } from '../aspo';
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
  /** The sentence whose equations are spelled out with numbers. */
  focus: { side: Side; index: number };
  setText: (field: 'prompt' | Side, text: string) => void;
  /** `current` is the full list the UI shows (stored values plus defaults), so one edit never drops the others. */
  setNumber: (side: Side, index: number, field: keyof SentenceNumbers, value: number, current: SentenceNumbers[]) => void;
  setSetting: <K extends 'alpha' | 'beta' | 'normalization' | 'perplexitySource'>(key: K, value: CalculatorState[K]) => void;
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
      focus: { side: 'chosen', index: 0 },
      setText: (field, text) => set({ [field]: text }),
      setNumber: (side, index, field, value, current) =>
        set(() => {
          const next = current.map((n, i) => (i === index ? { ...n, [field]: value } : n));
          return side === 'chosen' ? { chosenNumbers: next } : { rejectedNumbers: next };
        }),
      setSetting: (key, value) => set({ [key]: value }),
      setFocus: (side, index) => set({ focus: { side, index } }),
      loadExample: (example) =>
        set({
          prompt: example.prompt,
          chosen: example.chosen,
          rejected: example.rejected,
          chosenNumbers: example.chosenNumbers,
          rejectedNumbers: example.rejectedNumbers,
          focus: { side: 'chosen', index: 0 },
        }),
    }),
    { name: 'aspo-workbench/calculator', version: 1 },
  ),
);
