import type { ChoiceSetting, NumberSetting } from '../../aspo';
import { NumberField } from './NumberField';
import { SelectField } from './SelectField';

interface SettingFieldProps<V> {
  value: V;
  onChange: (value: V) => void;
  testId: string;
  stacked?: boolean;
}

/** A setting of the vocabulary (`src/aspo/settings.ts`, `src/train/settings.ts`) as a number field: its label, range, step and note. */
export function NumberSettingField({ setting, slider, ...field }: SettingFieldProps<number> & { setting: NumberSetting; slider?: boolean }) {
  const { label, min, aboveMin, max, integer, step, note } = setting;
  return (
    <NumberField
      {...field}
      label={label}
      hint={note}
      min={min}
      aboveMin={aboveMin}
      max={max}
      integer={integer}
      step={step}
      slider={slider && (setting.slider ?? true)}
    />
  );
}

/** A setting of the vocabulary as a select over its choices, with their labels. */
export function ChoiceSettingField<T extends string>({ setting, ...field }: SettingFieldProps<T> & { setting: ChoiceSetting<T> }) {
  return <SelectField {...field} label={setting.label} choices={setting.choices} />;
}
