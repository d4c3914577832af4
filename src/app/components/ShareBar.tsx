import { useRef, useState } from 'react';
import { download } from '../knowledge';
import { analysisJson, captureLink, linkUrl, useLink } from '../link-store';
import { VIEWS, type ViewId } from '../permalink';
import { toUiError, useLab, type UiError } from '../store';
import { LAB_VIEWS } from '../views';
import { ErrorMessage } from './ErrorMessage';

const MAX_ANALYSIS_BYTES = 1024 * 1024;

/** Copy a link to the current analysis (or an embed snippet), opening at a chosen view. */
export function ShareBar() {
  const view = useLink((s) => s.view);
  const setView = useLink((s) => s.setView);
  const model = useLab((s) => s.model);
  const [shared, setShared] = useState<{ url: string; what: string }>();
  const [error, setError] = useState<UiError>();
  const fileInput = useRef<HTMLInputElement>(null);

  const save = () => {
    setError(undefined);
    try {
      download('factlab-analysis.json', analysisJson(view), 'application/json');
    } catch (err) {
      setError(toUiError(err));
    }
  };

  const open = async (file: File | undefined) => {
    if (!file) return;
    if (file.size > MAX_ANALYSIS_BYTES) {
      setError({ code: 'bad-analysis', message: `${file.name} is ${Math.round(file.size / 1024)} kB; a saved analysis is at most ${MAX_ANALYSIS_BYTES / 1024} kB.` });
      return;
    }
    setError(undefined);
    await useLink.getState().openAnalysis(await file.text(), file.name);
  };

  const share = async (embed: boolean) => {
    setError(undefined);
    try {
      const url = linkUrl(captureLink(view), { embed });
      const text = embed ? `<iframe src="${url.replace(/"/g, '&quot;')}" width="800" height="600" title="factlab" loading="lazy"></iframe>` : url;
      let copied = true;
      try {
        await navigator.clipboard.writeText(text);
      } catch {
        copied = false; // no permission: the text below can still be selected and copied by hand
      }
      setShared({ url: text, what: `${embed ? 'Embed code' : 'Link'}${copied ? ' copied' : ''}` });
    } catch (err) {
      setShared(undefined);
      setError(toUiError(err));
    }
  };

  const views = VIEWS.filter((v) => v === 'lab' || LAB_VIEWS[v]);
  return (
    <div className="share-bar" data-testid="share-bar">
      <label className="inline-label small">
        Link opens at
        <select value={view} onChange={(e) => setView(e.target.value as ViewId)} data-testid="share-view">
          {views.map((v) => (
            <option key={v} value={v}>
              {v === 'lab' ? 'the whole lab' : LAB_VIEWS[v]!.label}
            </option>
          ))}
        </select>
      </label>
      <button type="button" disabled={!model} onClick={() => void share(false)} data-testid="copy-link">
        Copy link
      </button>
      <button type="button" disabled={!model} onClick={() => void share(true)} data-testid="copy-embed">
        Embed
      </button>
      <button type="button" disabled={!model} onClick={save} data-testid="save-analysis">
        Save analysis
      </button>
      <button type="button" onClick={() => fileInput.current?.click()} data-testid="open-analysis">
        Open analysis…
      </button>
      <input
        ref={fileInput}
        type="file"
        accept=".json,application/json"
        hidden
        data-testid="open-analysis-input"
        onChange={(e) => {
          void open(e.target.files?.[0]);
          e.target.value = '';
        }}
      />
      {shared && (
        <label className="share-output small">
          <span role="status">{shared.what}:</span>
          <input readOnly value={shared.url} data-testid="share-url" onFocus={(e) => e.currentTarget.select()} />
        </label>
      )}
      <ErrorMessage error={error} where="share" onDismiss={() => setError(undefined)} />
    </div>
  );
}
