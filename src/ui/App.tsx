import { useEffect, useState, type KeyboardEvent } from 'react';
import { initBackend, type BackendChoice } from '../tf/backend';
import { InspectPanel } from './inspect/InspectPanel';
import { TrainPanel } from './train/TrainPanel';
import './styles.css';

const TABS = [
  { id: 'inspect', label: 'Inspect' },
  { id: 'train', label: 'Train' },
] as const;
type TabId = (typeof TABS)[number]['id'];

function initialTab(): TabId {
  const hash = globalThis.location?.hash.slice(1);
  return TABS.some((t) => t.id === hash) ? (hash as TabId) : 'inspect';
}

export function App() {
  const [backend, setBackend] = useState<BackendChoice | null>(null);
  const [backendError, setBackendError] = useState<string | null>(null);
  const [tab, setTab] = useState<TabId>(initialTab);
  useEffect(() => {
    initBackend().then(setBackend, (err: Error) => setBackendError(err.message));
  }, []);

  const select = (id: TabId) => {
    setTab(id);
    history.replaceState(null, '', `#${id}`);
  };
  // Arrow keys move between tabs, as the WAI-ARIA tabs pattern expects.
  const onTabKey = (e: KeyboardEvent) => {
    if (e.key !== 'ArrowRight' && e.key !== 'ArrowLeft') return;
    const i = TABS.findIndex((t) => t.id === tab);
    const next = TABS[(i + (e.key === 'ArrowRight' ? 1 : TABS.length - 1)) % TABS.length];
    select(next.id);
    document.getElementById(`tab-${next.id}`)?.focus();
  };

  return (
    <div className="app">
      <header className="app-header">
        <h1>ASPO Workbench</h1>
        <p className="tagline">How Adaptive Sentence-level Preference Optimization weighs a response, sentence by sentence.</p>
        <p
          className={`backend-badge ${backend?.backend ?? 'pending'}`}
          data-testid="backend"
          data-backend={backend?.backend ?? ''}
          role="status"
          title={backend?.reason}
        >
          {backendError
            ? `TF.js could not start: ${backendError}`
            : backend
              ? `TF.js backend: ${backend.reason}`
              : 'TF.js backend: starting…'}
        </p>
      </header>
      <nav className="tabs" role="tablist" aria-label="Workbench views" onKeyDown={onTabKey}>
        {TABS.map((t) => (
          <button
            key={t.id}
            id={`tab-${t.id}`}
            type="button"
            role="tab"
            aria-selected={tab === t.id}
            aria-controls={`panel-${t.id}`}
            tabIndex={tab === t.id ? 0 : -1}
            data-testid={`tab-${t.id}`}
            onClick={() => select(t.id)}
          >
            {t.label}
          </button>
        ))}
      </nav>
      <div id={`panel-${tab}`} role="tabpanel" aria-labelledby={`tab-${tab}`}>
        {tab === 'inspect' ? <InspectPanel backend={backend} /> : <TrainPanel />}
      </div>
    </div>
  );
}
