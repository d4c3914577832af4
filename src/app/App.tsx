import { useEffect } from 'react';
import { BackendIndicator } from './components/BackendIndicator';
import { BeforeAfter } from './components/BeforeAfter';
import { EditsPanel } from './components/EditsPanel';
import { EmbedView } from './components/EmbedView';
import { FactPanel } from './components/FactPanel';
import { Lesson } from './components/Lesson';
import { LinkBanner } from './components/LinkBanner';
import { ModelPicker } from './components/ModelPicker';
import { NeuronInspector } from './components/NeuronInspector';
import { NeuronMapPanel } from './components/NeuronMapPanel';
import { DegeneracyPanel } from './components/DegeneracyPanel';
import { SubnetworkPanel } from './components/SubnetworkPanel';
import { NeuronSearch } from './components/NeuronSearch';
import { ShareBar } from './components/ShareBar';
import { useFacts } from './facts-store';
import { persistLabState, useLink } from './link-store';
import { useLab } from './store';

export function App() {
  const start = useLab((s) => s.start);
  const embed = useLink((s) => s.embed);
  useEffect(() => {
    void start();
    void useFacts.getState().loadLibrary();
    void useLink.getState().openFromPage();
    return persistLabState();
  }, [start]);

  // A file dropped outside the drop zone must not make the browser navigate away from the lab.
  useEffect(() => {
    const stop = (e: DragEvent) => {
      if (e.dataTransfer?.types.includes('Files')) e.preventDefault();
    };
    window.addEventListener('dragover', stop);
    window.addEventListener('drop', stop);
    return () => {
      window.removeEventListener('dragover', stop);
      window.removeEventListener('drop', stop);
    };
  }, []);

  if (embed) return <EmbedView />;
  return (
    <div className="page">
      <header className="masthead">
        <div>
          <h1>factlab</h1>
          <p className="tagline">Find where a language model keeps a fact — and prove it by taking the fact out. Everything runs in your browser.</p>
        </div>
        <BackendIndicator />
        <ShareBar />
      </header>
      <main className="layout">
        <LinkBanner />
        <Lesson />
        <ModelPicker />
        <FactPanel />
        <NeuronSearch />
        <NeuronMapPanel />
        <div className="two-up">
          <NeuronInspector />
          <BeforeAfter />
        </div>
        <EditsPanel />
        <DegeneracyPanel />
        <SubnetworkPanel />
      </main>
    </div>
  );
}
