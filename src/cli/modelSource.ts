// What `--model` names, turned into something loadEngine opens: a folder on disk (as given), a random-weight model
// name (as given), or a Hub id / http(s) URL, downloaded first into the disk cache (`--cache-dir`, `--hub`) with a
// progress display. A folder that exists wins over a Hub id of the same spelling (`models/gpt2-shakespeare`).
import { stat } from 'node:fs/promises';
import { DownloadError, UsageError } from '../errors.ts';
import { defaultCacheDir, downloadModelToDisk } from '../io/nodeDiskCache.ts';
import { isRandomModelName } from '../model/randomWeights.ts';
import { createProgress, stderrSink, type Progress } from './progress.ts';
import type { Values } from './args.ts';

const HUB_ID = /^[\w.-]+\/[\w.-]+$/;
const HTTP_URL = /^https?:\/\//i;

/** Checks --hub and --cache-dir (usage mistakes, before anything runs). */
export function checkModelOptions(values: Values): void {
  if (values.hub !== undefined) {
    let ok = false;
    try {
      ok = HTTP_URL.test(values.hub) && new URL(values.hub).href !== '';
    } catch {
      ok = false;
    }
    if (!ok) throw new UsageError(`--hub needs an http(s) URL (like https://huggingface.co/), got ${JSON.stringify(values.hub)}`);
  }
  if (values['cache-dir'] === '') throw new UsageError('--cache-dir needs a folder, got ""');
}

/** The folder (or random-model name) to load; undefined for the embedded demo model. */
export async function resolveModel(values: Values): Promise<string | undefined> {
  const model = values.model;
  if (model === undefined || isRandomModelName(model)) return model;
  if (await stat(model).then(() => true, () => false)) return model;
  if (!HTTP_URL.test(model) && !HUB_ID.test(model)) return model; // the folder loader names what is missing
  const bars = new Map<string, Progress>();
  try {
    return await downloadModelToDisk(model, {
      cacheDir: values['cache-dir'] ?? defaultCacheDir(),
      hub: values.hub,
      onProgress: (p) => {
        let bar = bars.get(p.file);
        if (!bar) bars.set(p.file, (bar = createProgress(stderrSink(), `downloading ${p.file}`)));
        bar.update(p.loaded, p.total);
        if (p.done) bar.end();
      },
    });
  } catch (e) {
    if (e instanceof DownloadError && HUB_ID.test(model) && !HTTP_URL.test(model)) throw new DownloadError(`there is no folder ${model} here, so it was taken as a Hub id: ${e.message}`);
    throw e;
  } finally {
    for (const bar of bars.values()) bar.end();
  }
}
