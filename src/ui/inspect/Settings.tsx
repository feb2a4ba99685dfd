import { ASPO_SETTINGS } from '../../aspo';
import { EXAMPLE_PAIRS } from '../../data/examples';
import { useInspect } from '../../state/inspectStore';
import { SelectField } from '../common/SelectField';
import { ChoiceSettingField, NumberSettingField } from '../common/SettingFields';

const EXAMPLE_CHOICES = EXAMPLE_PAIRS.map((p) => ({ value: p.id, label: p.title }));

export function Settings() {
  const { alpha, beta, normalization, perplexitySource, granularity, setSetting, loadExample } = useInspect();
  return (
    <section className="settings" aria-label="Method settings">
      <h2>Settings</h2>
      <div className="setting-row">
        <NumberSettingField setting={ASPO_SETTINGS.alpha} slider value={alpha} testId="alpha" onChange={(v) => setSetting('alpha', v)} />
      </div>
      <div className="setting-row">
        <NumberSettingField setting={ASPO_SETTINGS.beta} slider value={beta} testId="beta" onChange={(v) => setSetting('beta', v)} />
      </div>
      <ChoiceSettingField setting={ASPO_SETTINGS.normalization} value={normalization} testId="normalization" onChange={(v) => setSetting('normalization', v)} />
      <ChoiceSettingField setting={ASPO_SETTINGS.granularity} value={granularity} testId="granularity" onChange={(v) => setSetting('granularity', v)} />
      <ChoiceSettingField
        setting={ASPO_SETTINGS.perplexitySource}
        value={perplexitySource}
        testId="perplexity-source"
        onChange={(v) => setSetting('perplexitySource', v)}
      />
      <SelectField
        label="Load an example pair"
        value=""
        placeholder="Choose…"
        choices={EXAMPLE_CHOICES}
        testId="example"
        onChange={(id) => {
          const example = EXAMPLE_PAIRS.find((p) => p.id === id);
          if (example) loadExample(example);
        }}
      />
    </section>
  );
}
