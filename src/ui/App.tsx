export function App() {
  return <h1>ASPO Workbench</h1>;
}
