/**
 * Collecting model files picked or dropped by the user: single files, several files, or
 * whole folders (through `webkitGetAsEntry` for drops and `webkitRelativePath` for the
 * folder picker). The worker matches checkpoint files by base name; a File sent to the
 * worker keeps only its base name, so the choice between same-named files in different
 * sub-folders (a repo with an onnx/ copy, say) is made here: the shallowest one wins.
 */

export interface PickedFile {
  /** Path relative to what was picked or dropped ("gpt2/config.json" or just "config.json"). */
  path: string;
  file: File;
}

/** Files of a model a checkpoint may use; anything else in a dropped folder is ignored. */
const MODEL_FILE = /^(config\.json|model\.safetensors|model\.safetensors\.index\.json|model-\d+-of-\d+\.safetensors|.*\.safetensors|vocab\.json|merges\.txt|tokenizer\.json|tokenizer_config\.json|vocab\.txt|pytorch_model\.bin|pytorch_model\.bin\.index\.json|tf_model\.h5|flax_model\.msgpack)$/;

export function baseName(path: string): string {
  const parts = path.split(/[\\/]/).filter((p) => p !== '');
  return parts[parts.length - 1] ?? '';
}

/** From a file list (picker, or a drop without entries). */
export function pickedFromFileList(list: FileList | File[]): PickedFile[] {
  return Array.from(list, (file) => ({ path: file.webkitRelativePath || file.name, file }));
}

/** From a drop: walks dropped folders; falls back to `files` when the browser gives no entries. */
export async function pickedFromDataTransfer(data: DataTransfer): Promise<PickedFile[]> {
  const entries: FileSystemEntry[] = [];
  for (const item of Array.from(data.items ?? [])) {
    if (item.kind !== 'file') continue;
    const entry = typeof item.webkitGetAsEntry === 'function' ? item.webkitGetAsEntry() : null;
    if (entry) entries.push(entry);
  }
  if (entries.length === 0) return pickedFromFileList(data.files);
  const out: PickedFile[] = [];
  for (const entry of entries) await walkEntry(entry, '', out, 0);
  return out;
}

async function walkEntry(entry: FileSystemEntry, prefix: string, out: PickedFile[], depth: number): Promise<void> {
  const path = prefix ? `${prefix}/${entry.name}` : entry.name;
  if (entry.isFile) {
    const file = await new Promise<File>((resolve, reject) => (entry as FileSystemFileEntry).file(resolve, reject));
    out.push({ path, file });
    return;
  }
  if (!entry.isDirectory || depth > 8) return;
  const reader = (entry as FileSystemDirectoryEntry).createReader();
  // readEntries returns the listing in batches; an empty batch ends it.
  for (;;) {
    const batch = await new Promise<FileSystemEntry[]>((resolve, reject) => reader.readEntries(resolve, reject));
    if (batch.length === 0) break;
    for (const child of batch) await walkEntry(child, path, out, depth + 1);
  }
}

/**
 * The files to send to the worker: model files only, and per base name the shallowest
 * path (equally shallow duplicates are all kept, so the loader can report the ambiguity).
 */
export function selectModelFiles(picked: PickedFile[]): File[] {
  const best = new Map<string, { depth: number; files: File[] }>();
  for (const { path, file } of picked) {
    const name = baseName(path);
    if (!MODEL_FILE.test(name)) continue;
    const depth = path.split(/[\\/]/).filter((p) => p !== '').length;
    const known = best.get(name);
    if (!known || depth < known.depth) best.set(name, { depth, files: [file] });
    else if (depth === known.depth) known.files.push(file);
  }
  return [...best.values()].flatMap((b) => b.files);
}

/** A short label for a set of picked files: the common folder name, or the file count. */
export function labelForPicked(picked: PickedFile[]): string {
  const roots = new Set(picked.map((p) => (p.path.includes('/') ? p.path.split('/')[0] : '')));
  if (roots.size === 1) {
    const [root] = [...roots];
    if (root) return `folder ${root}`;
  }
  return `${picked.length} local file${picked.length === 1 ? '' : 's'}`;
}
