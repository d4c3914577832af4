import { useLink } from '../link-store';
import { LAB_VIEWS } from '../views';
import { LinkBanner } from './LinkBanner';

/** `?embed=1`: one view of the link, without the lab's header and other panels (for iframes). */
export function EmbedView() {
  const view = useLink((s) => s.view);
  const entry = LAB_VIEWS[view === 'lab' ? 'fact' : view];
  const full = new URL(window.location.href);
  full.searchParams.delete('embed');
  return (
    <div className="embed" data-testid="embed" data-view={view}>
      <LinkBanner />
      {entry ? <entry.Component /> : <p className="alert">This link opens the “{view}” view, which this version of factlab does not have.</p>}
      <p className="embed-footer small">
        <a href={full.href} target="_blank" rel="noopener noreferrer">
          Open in factlab
        </a>
      </p>
    </div>
  );
}
