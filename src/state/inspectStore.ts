import { create } from 'zustand';
import { createJSONStorage, persist } from 'zustand/middleware';
import { DEFAULT_ASPO_SETTINGS, splitSentences, type Granularity, type Normalization, type PerplexitySource } from '../aspo';
import { EXAMPLE_PAIRS, type ExamplePair, type SentenceNumbers } from '../data/examples';
import {
  EMPTY_BOOK,
  imageKey,
  migratePositionalNumbers,
  pruneBook,
  recordExample,
  recordScores,
  resolveNumbers,
  setByHand,
  type NumberBook,
  type ScoreRecord,
  type ScoredResponse,
  type Side,
} from '../data/sentenceNumbers';
import { DEFAULT_PICKER, scenePair, type SandboxSelection, type ScenePicker } from './inspect/sandboxScene';

export type { Side } from '../data/sentenceNumbers';

export interface InspectState {
  prompt: string;
  chosen: string;
  rejected: string;
  /** Every sentence's numbers, keyed by its text (and the image and model for a model's numbers). */
  book: NumberBook;
  alpha: number;
  beta: number;
  normalization: Normalization;
  perplexitySource: PerplexitySource;
  granularity: Granularity;
  /** The pair's image, downscaled, as a data URL (kept across reloads). */
  image: { dataUrl: string; name: string } | null;
  /** The sandbox scene picker's fields. */
  scenePicker: ScenePicker;
  /** The sandbox scene the image was drawn from, whose ground truth judges the sentences; null for any other image. */
  sandbox: SandboxSelection | null;
  /** A model's per-token scores of each response; ignored once its text, the prompt or the image changes. */
  scored: { chosen?: ScoredResponse; rejected?: ScoredResponse };
  /** The sentence whose equations are spelled out with numbers. */
  focus: { side: Side; index: number };
  /** Something the user should know about their saved state, e.g. numbers an update had to drop. */
  notice: string | null;
  setText: (field: 'prompt' | Side, text: string) => void;
  setNumber: (side: Side, sentence: string, field: keyof SentenceNumbers, value: number) => void;
  setSetting: <K extends 'alpha' | 'beta' | 'normalization' | 'perplexitySource' | 'granularity'>(
    key: K,
    value: InspectState[K],
  ) => void;
  /** An image that is not a sandbox scene (or none). */
  setImage: (image: InspectState['image']) => void;
  setScenePicker: (patch: Partial<ScenePicker>) => void;
  /** A sandbox scene as the pair's image, `image` its picture. */
  showScene: (selection: SandboxSelection, image: NonNullable<InspectState['image']>) => void;
  /** The scene's pair: its description as chosen, a corrupted one as rejected, asked with the describe prompt. */
  fillFromScene: () => void;
  /** Numbers and tokens that models produced for the current texts. */
  setScores: (record: ScoreRecord, scored: { chosen: ScoredResponse; rejected: ScoredResponse }) => void;
  setFocus: (side: Side, index: number) => void;
  loadExample: (example: ExamplePair) => void;
  dismissNotice: () => void;
}

/** The book without the oldest entries of sentences no longer on screen. */
function pruned(book: NumberBook, state: Pick<InspectState, 'chosen' | 'rejected'>): NumberBook {
  const keep = (['chosen', 'rejected'] as const).flatMap((side) => splitSentences(state[side]).map((s) => ({ side, text: s.text })));
  return pruneBook(book, keep);
}

/** S_i of each chosen sentence, or null while any is a placeholder: training must not take a guess for a measurement. */
export function chosenSimilarity(state: Pick<InspectState, 'chosen' | 'prompt' | 'image' | 'book'>): number[] | null {
  const spans = splitSentences(state.chosen);
  const rows = resolveNumbers(state.book, 'chosen', state.chosen, spans, { prompt: state.prompt, image: imageKey(state.image?.dataUrl) });
  return rows.length > 0 && rows.every((r) => r.sources.similarity.source !== 'placeholder') ? rows.map((r) => r.numbers.similarity) : null;
}

const first = EXAMPLE_PAIRS[0];

export const useInspect = create<InspectState>()(
  persist(
    (set) => ({
      prompt: first.prompt,
      chosen: first.chosen,
      rejected: first.rejected,
      book: recordExample(EMPTY_BOOK, first),
      alpha: DEFAULT_ASPO_SETTINGS.alpha,
      beta: DEFAULT_ASPO_SETTINGS.beta,
      normalization: DEFAULT_ASPO_SETTINGS.normalization,
      perplexitySource: DEFAULT_ASPO_SETTINGS.perplexitySource,
      granularity: DEFAULT_ASPO_SETTINGS.granularity,
      image: null,
      scenePicker: DEFAULT_PICKER,
      sandbox: null,
      scored: {},
      focus: { side: 'chosen', index: 0 },
      notice: null,
      setText: (field, text) => set({ [field]: text }),
      setNumber: (side, sentence, field, value) =>
        set((state) => {
          const book = pruned(setByHand(state.book, side, sentence, field, value), state);
          if (field === 'similarity') return { book };
          // A hand-set log-prob overrides the model's tokens of this response.
          return { book, scored: { ...state.scored, [side]: undefined } };
        }),
      setSetting: (key, value) => set({ [key]: value }),
      setFocus: (side, index) => set({ focus: { side, index } }),
      setImage: (image) => set({ image, sandbox: null }),
      setScenePicker: (patch) => set((state) => ({ scenePicker: { ...state.scenePicker, ...patch } })),
      showScene: (selection, image) => set({ sandbox: selection, image }),
      fillFromScene: () =>
        set((state) => {
          if (!state.sandbox) return {};
          const { prompt, chosen, rejected } = scenePair(state.sandbox.scene, state.scenePicker.corruptionSeed);
          return { prompt, chosen, rejected, book: pruned(state.book, { chosen, rejected }), focus: { side: 'chosen', index: 0 } };
        }),
      setScores: (record, scored) => set((state) => ({ book: pruned(recordScores(state.book, record), state), scored })),
      loadExample: (example) =>
        set((state) => ({
          prompt: example.prompt,
          chosen: example.chosen,
          rejected: example.rejected,
          book: pruned(recordExample(state.book, example), example),
          scored: {},
          focus: { side: 'chosen', index: 0 },
        })),
      dismissNotice: () => set({ notice: null }),
    }),
    {
      // The tab's name before it was Inspect: users' saved pairs and numbers are under this key.
      name: 'aspo-workbench/calculator',
      version: 4,
      storage: createJSONStorage(() => globalThis.localStorage),
      migrate: (persisted, version) => {
        const old = (persisted ?? {}) as Record<string, unknown>;
        if (version >= 4) return old as unknown as InspectState;
        // Version 3's model tokens did not carry their sentence; the book keeps their sums, so only they go.
        if (version === 3) return { ...old, scored: {} } as unknown as InspectState;
        // Up to version 2 numbers were lists by position, and model tokens carried no prompt or image.
        const { book, dropped } = migratePositionalNumbers(old, EXAMPLE_PAIRS);
        const kept = { ...old };
        for (const gone of ['chosenNumbers', 'rejectedNumbers', 'truncated']) delete kept[gone];
        return {
          ...kept,
          book,
          scored: {},
          notice: dropped
            ? 'The per-sentence numbers saved by an earlier version were kept by position, so they could belong to other text; they were dropped. Set them again, or score with models.'
            : null,
        } as unknown as InspectState;
      },
    },
  ),
);
