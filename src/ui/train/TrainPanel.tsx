export function TrainPanel() {
  return <main className="train-panel">Training will appear here.</main>;
}
