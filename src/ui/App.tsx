import { useEffect, useState } from 'react';
import { initBackend, type BackendChoice } from '../tf/backend';
import { CalculatorPanel } from './calculator/CalculatorPanel';
import './styles.css';

export function App() {
  const [backend, setBackend] = useState<BackendChoice | null>(null);
  const [backendError, setBackendError] = useState<string | null>(null);
  useEffect(() => {
    initBackend().then(setBackend, (err: Error) => setBackendError(err.message));
  }, []);

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
      <CalculatorPanel backend={backend} />
    </div>
  );
}
