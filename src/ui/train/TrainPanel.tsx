import { useEffect } from 'react';
import { useTrain } from '../../state/trainStore';
import { AdapterPanel, ComparePanel } from './ComparePanel';
import { connectWorker } from '../../state/trainWorker';
import { MetricCharts } from './MetricCharts';
import { ModelPicker, RunButtons, RunList, StatusLine, StepLog } from './RunControls';
import { SettingsForm } from './SettingsForm';

/**
 * The Train tab: settings, run controls and status, live charts of every overlaid run, the run list, before /
 * after, adapter export and import. All TF.js work happens in the training worker; this tree only draws what it
 * reports, and each part subscribes to its own slice of the store so a step redraws the charts and the status.
 */
export function TrainPanel() {
  useEffect(() => connectWorker(), []);
  const running = useTrain((s) => s.runs.some((r) => r.status === 'running' || r.status === 'preparing'));
  return (
    <main className="train-panel" data-testid="train-panel">
      <div className="train-side">
        <ModelPicker disabled={running} />
        <SettingsForm disabled={running} />
      </div>
      <div className="train-main">
        <RunButtons />
        <StatusLine />
        <MetricCharts />
        <RunList />
        <StepLog />
        <ComparePanel disabled={running} />
        <AdapterPanel disabled={running} />
      </div>
    </main>
  );
}
