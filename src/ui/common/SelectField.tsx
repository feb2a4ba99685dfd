export interface Choice<T extends string> {
  value: T;
  label: string;
}

interface SelectFieldProps<T extends string> {
  label: string;
  value: T;
  choices: readonly Choice<T>[];
  onChange: (value: T) => void;
  testId?: string;
}

/** A labelled select over a fixed set of typed choices. */
export function SelectField<T extends string>({ label, value, choices, onChange, testId }: SelectFieldProps<T>) {
  return (
    <label className="setting-row">
      <span className="number-field-label">{label}</span>
      <select value={value} data-testid={testId} onChange={(e) => onChange(e.target.value as T)}>
        {choices.map((c) => (
          <option key={c.value} value={c.value}>
            {c.label}
          </option>
        ))}
      </select>
    </label>
  );
}
