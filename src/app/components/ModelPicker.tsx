import { useRef, useState, type DragEvent, type FormEvent } from 'react';
import { labelForPicked, pickedFromDataTransfer, pickedFromFileList, selectModelFiles, type PickedFile } from '../files';
import { useLab } from '../store';
import { CachePanel } from './CachePanel';
import { ErrorMessage } from './ErrorMessage';
import { ModelInfoLine } from './ModelInfoLine';
import { ProgressBar } from './ProgressBar';

const DIRECTORY_ATTRS = { webkitdirectory: '', directory: '' } as Record<string, string>;

/** Choose a model: the embedded default, a Hub repo or URL, or local files / a folder. */
export function ModelPicker() {
  const loading = useLab((s) => s.loading);
  const loadError = useLab((s) => s.loadError);
  const model = useLab((s) => s.model);
  const backendStatus = useLab((s) => s.backendStatus);
  const loadModel = useLab((s) => s.loadModel);
  const loadFromText = useLab((s) => s.loadFromText);
  const cancelLoad = useLab((s) => s.cancelLoad);
  const dismissLoadError = useLab((s) => s.dismissLoadError);
  const [spec, setSpec] = useState('');
  const [dragging, setDragging] = useState(false);
  const filesInput = useRef<HTMLInputElement>(null);
  const folderInput = useRef<HTMLInputElement>(null);
  const disabled = backendStatus !== 'ready';

  const loadPicked = (picked: PickedFile[]) => {
    const files = selectModelFiles(picked);
    if (files.length === 0) {
      useLab.setState({
        loadError: {
          code: 'no-model-files',
          message: `None of the ${picked.length} selected file(s) belongs to a model: pick config.json, model.safetensors and the tokenizer files (GPT-2: vocab.json + merges.txt or tokenizer.json; BERT: vocab.txt or tokenizer.json).`,
        },
      });
      return;
    }
    void loadModel({ label: labelForPicked(picked), source: { kind: 'files', files } });
  };

  const onSubmit = (e: FormEvent) => {
    e.preventDefault();
    void loadFromText(spec);
  };

  const onDrop = async (e: DragEvent) => {
    e.preventDefault();
    setDragging(false);
    if (disabled) return;
    try {
      loadPicked(await pickedFromDataTransfer(e.dataTransfer));
    } catch (err) {
      useLab.setState({ loadError: { code: 'read-failed', message: `Could not read the dropped files: ${(err as Error).message}` } });
    }
  };

  return (
    <section className="card" aria-labelledby="model-heading">
      <h2 id="model-heading">Model</h2>
      <ModelStatus />
      <div className="model-sources">
        <button type="button" onClick={() => void loadModel({ label: 'default model', source: { kind: 'default' } })} disabled={disabled} data-testid="load-default">
          Default model
        </button>
        <button type="button" onClick={() => void loadModel({ label: 'default BERT', source: { kind: 'default', arch: 'bert' } })} disabled={disabled} data-testid="load-default-bert" title="A small BERT trained on the same facts: the knowledge-neurons paper's masked setting (prompts with [MASK])">
          Default BERT
        </button>
        <form className="source-form" onSubmit={onSubmit}>
          <label htmlFor="model-source">Hub repo@revision or folder URL</label>
          <div className="inline">
            <input
              id="model-source"
              data-testid="model-source-input"
              type="text"
              placeholder="e.g. openai-community/gpt2@main or https://…/model-folder"
              spellCheck={false}
              autoComplete="off"
              value={spec}
              onChange={(e) => setSpec(e.target.value)}
            />
            <button type="submit" disabled={disabled} data-testid="load-source">
              Load
            </button>
          </div>
        </form>
      </div>
      <div
        className={`dropzone${dragging ? ' dropzone-active' : ''}`}
        data-testid="dropzone"
        onDragOver={(e) => {
          e.preventDefault();
          e.dataTransfer.dropEffect = 'copy';
          setDragging(true);
        }}
        onDragLeave={() => setDragging(false)}
        onDrop={(e) => void onDrop(e)}
      >
        <p>
          Drop a model folder or its files here: <code>config.json</code>, <code>model.safetensors</code>, and <code>vocab.json</code> + <code>merges.txt</code> or{' '}
          <code>tokenizer.json</code>.
        </p>
        <div className="inline">
          <button type="button" onClick={() => filesInput.current?.click()} disabled={disabled}>
            Choose files…
          </button>
          <button type="button" onClick={() => folderInput.current?.click()} disabled={disabled}>
            Choose folder…
          </button>
        </div>
        <input
          ref={filesInput}
          className="visually-hidden"
          type="file"
          multiple
          aria-label="Model files"
          data-testid="model-files-input"
          tabIndex={-1}
          onChange={(e) => {
            if (e.target.files?.length) loadPicked(pickedFromFileList(e.target.files));
            e.target.value = '';
          }}
        />
        <input
          ref={folderInput}
          className="visually-hidden"
          type="file"
          aria-label="Model folder"
          data-testid="model-folder-input"
          tabIndex={-1}
          {...DIRECTORY_ATTRS}
          onChange={(e) => {
            if (e.target.files?.length) loadPicked(pickedFromFileList(e.target.files));
            e.target.value = '';
          }}
        />
      </div>
      {loading && <ProgressBar title={`Loading ${loading.label}`} progress={loading.progress} onCancel={cancelLoad} testId="load-progress" cancelTestId="cancel-load" />}
      <ErrorMessage error={loadError} where="model" onDismiss={dismissLoadError} />
      {model && <ModelInfoLine />}
      <CachePanel />
    </section>
  );
}

function ModelStatus() {
  const loading = useLab((s) => s.loading);
  const model = useLab((s) => s.model);
  const choice = useLab((s) => s.modelChoice);
  const loadError = useLab((s) => s.loadError);
  const backendStatus = useLab((s) => s.backendStatus);
  let state: string;
  let text: string;
  if (loading) {
    state = 'loading';
    text = `Loading ${loading.label}… ${Math.round(loading.progress.fraction * 100)}%`;
  } else if (model) {
    state = 'ready';
    text = `Ready: ${choice?.label ?? model.id}`;
  } else if (backendStatus === 'starting') {
    state = 'idle';
    text = 'Starting the engine…';
  } else if (loadError || backendStatus === 'error') {
    state = 'error';
    text = 'No model loaded';
  } else {
    state = 'idle';
    text = 'No model loaded';
  }
  return (
    <p className={`model-status status-${state}`} data-testid="model-status" data-state={state} aria-live="polite">
      {text}
    </p>
  );
}
