import { useLink } from '../link-store';
import { ErrorMessage } from './ErrorMessage';

/** What opening a link is doing: asking before a download, restoring, or why it failed. */
export function LinkBanner() {
  const status = useLink((s) => s.status);
  const pending = useLink((s) => s.pending);
  const stage = useLink((s) => s.restoreStage);
  const error = useLink((s) => s.linkError);
  const verification = useLink((s) => s.verification);
  const { confirmRemote, declineRemote, dismissLinkError } = useLink.getState();
  return (
    <>
      {status === 'confirm' && pending && (
        <section className="card link-banner" role="alertdialog" aria-labelledby="remote-heading" data-testid="remote-confirm">
          <h2 id="remote-heading">This link uses another model</h2>
          <p>
            It was made with <code>{pending.what}</code>, which is downloaded from the network (possibly hundreds of megabytes) and then cached in this browser.
            {!pending.pinned && ' Its revision is a branch name, not a commit, so the weights may have changed since the link was made.'}
          </p>
          <div className="inline">
            <button type="submit" onClick={() => void confirmRemote()} data-testid="remote-accept">
              Download and open
            </button>
            <button type="button" onClick={declineRemote} data-testid="remote-decline">
              Stay on the default model
            </button>
          </div>
        </section>
      )}
      {status === 'restoring' && (
        <p className="note link-banner" role="status" data-testid="link-restoring">
          Opening the link: {stage}…
        </p>
      )}
      {verification && (
        <p className={verification.matches ? 'note-ok small' : 'note small'} role="status" data-testid="analysis-verified" data-matches={verification.matches}>
          {verification.message}
        </p>
      )}
      <ErrorMessage error={error} where="link" onDismiss={dismissLinkError} />
    </>
  );
}
