/**
 * The views a link can open at, and that `?embed=1` can show alone. A view that is not
 * listed here (e.g. in an older build) is reported, not guessed.
 */
import type { ComponentType } from 'react';
import { BeforeAfter } from './components/BeforeAfter';
import { EditsPanel } from './components/EditsPanel';
import { FactPanel } from './components/FactPanel';
import { NeuronInspector } from './components/NeuronInspector';
import { NeuronMapPanel } from './components/NeuronMapPanel';
import { DegeneracyPanel } from './components/DegeneracyPanel';
import { SubnetworkPanel } from './components/SubnetworkPanel';
import type { ViewId } from './permalink';

export interface LabView {
  label: string;
  /** Where the view's card is on the full page (for scrolling to it). */
  selector: string;
  Component: ComponentType;
}

export const LAB_VIEWS: Partial<Record<ViewId, LabView>> = {
  fact: { label: 'Fact and next tokens', selector: 'section[aria-labelledby="fact-heading"]', Component: FactPanel },
  'neuron-map': { label: 'Neuron map', selector: '[data-testid="map-panel"]', Component: NeuronMapPanel },
  inspector: { label: 'Neuron inspector', selector: '[data-testid="inspector"]', Component: NeuronInspector },
  'before-after': { label: 'Before / after', selector: '[data-testid="before-after"]', Component: BeforeAfter },
  edits: { label: 'Edits', selector: '[data-testid="edits"]', Component: EditsPanel },
  degeneracy: { label: 'Degeneracy', selector: '[data-testid="degeneracy"]', Component: DegeneracyPanel },
  subnetwork: { label: 'Subnetwork', selector: '[data-testid="subnetwork"]', Component: SubnetworkPanel },
};
