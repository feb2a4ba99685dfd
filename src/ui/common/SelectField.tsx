import { useId } from 'react';

export interface SelectChoice<T extends string> {
  value: T;
  label: string;
}

interface SelectFieldProps<T extends string> {
  label: string;
  /** `''` while nothing is chosen (with a `placeholder`) */
  value: T | '';
  choices: readonly SelectChoice<T>[];
  onChange: (value: T) => void;
  /** an unselectable first entry shown while `value` is `''`: a picker that acts rather than holds a value */
  placeholder?: string;
  testId?: string;
  /** Label above the select (a grid of fields) rather than beside it. */
  stacked?: boolean;
}

/** A labelled select over a fixed set of typed choices. */
export function SelectField<T extends string>({ label, value, choices, onChange, placeholder, testId, stacked }: SelectFieldProps<T>) {
  const id = useId();
  return (
    <div className={stacked ? 'train-field' : 'setting-row'}>
      <label htmlFor={id} className={stacked ? undefined : 'number-field-label'}>
        {label}
      </label>
      <select id={id} value={value} data-testid={testId} onChange={(e) => onChange(e.target.value as T)}>
        {placeholder !== undefined && (
          <option value="" disabled>
            {placeholder}
          </option>
        )}
        {choices.map((c) => (
          <option key={c.value} value={c.value}>
            {c.label}
          </option>
        ))}
      </select>
    </div>
  );
}
