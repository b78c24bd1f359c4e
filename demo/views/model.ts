// The model panel: where the model comes from (the embedded demo model, a Hub id or URL, local files), loading with
// download and upload progress, cancel, what was loaded, and the Cache API's contents.
import { modelBaseUrl, type DownloadProgress, type LoadProgress, type ModelSource } from '../../src/index.ts';
import type { App } from '../app.ts';
import { CachePanel } from './cachePanel.ts';
import { localModelName } from '../localName.ts';
import { DEFAULT_HUB, loadsByItself } from '../trust.ts';
import { $, byTestId, droppedFiles, h, setText } from '../dom.ts';
import * as fmt from '../format.ts';

type SourceKind = 'demo' | 'hub' | 'local';

export const DEMO_MODEL_PATH = './gpt2-shakespeare/';

export class ModelPanel {
  private kind: SourceKind = 'demo';
  private readonly input = $<HTMLInputElement>('#model-input');
  private readonly hub: string;
  /** Download progress of each file of the load in progress. */
  private downloads = new Map<string, DownloadProgress>();
  private upload: LoadProgress | undefined;
  /** The Cache API's models: list, sizes, complete or not, delete. */
  private readonly cache: CachePanel;

  constructor(private readonly app: App) {
    this.cache = new CachePanel(app);
    this.hub = app.params.hub ?? DEFAULT_HUB;
    setText($('#hub-endpoint'), this.hub);
    for (const button of document.querySelectorAll<HTMLButtonElement>('[data-source]')) button.onclick = () => this.selectKind(button.dataset.source as SourceKind);
    $('#load').onclick = () => void this.loadSelected();
    this.input.onkeydown = (e) => {
      if (e.key === 'Enter') void this.loadSelected();
    };
    $('#cancel-load').onclick = () => void app.client.call('cancel', { what: 'load' });
    for (const id of ['#folder-input', '#files-input']) {
      const input = $<HTMLInputElement>(id);
      input.onchange = () => {
        const files = [...(input.files ?? [])];
        input.value = '';
        if (files.length) void this.loadFiles(files);
      };
    }
    const zone = $('#model-dropzone');
    zone.ondragover = (e) => {
      e.preventDefault();
      zone.classList.add('over');
    };
    zone.ondragleave = () => zone.classList.remove('over');
    zone.ondrop = async (e) => {
      e.preventDefault();
      e.stopPropagation();
      zone.classList.remove('over');
      if (e.dataTransfer) void this.loadFiles(await droppedFiles(e.dataTransfer));
    };
    app.client.on('download', ({ progress }) => {
      this.downloads.set(progress.file, progress);
      this.renderProgress();
    });
    app.client.on('stage', ({ message }) => setText($('#progress-stage'), message));
    app.client.on('upload', ({ progress }) => {
      this.upload = progress;
      this.renderProgress();
    });
    app.onChange(() => this.refreshControls());
    void this.refreshCacheInfo();
  }

  /**
   * The model named by the URL (a Hub id or URL), else the demo model. One on another server (or a Hub id on a
   * non-default Hub) only fills the form: nothing is fetched until the person presses Load (trust.ts). Returns
   * whether a model was loaded.
   */
  async loadInitial(): Promise<boolean> {
    const model = this.app.params.model;
    if (model) {
      this.selectKind('hub');
      this.input.value = model;
      let source: ModelSource | undefined;
      try {
        source = this.hubSource(model);
      } catch {
        // loadSelected() shows the error.
      }
      if (source?.kind === 'url' && !loadsByItself(source.url, location.href)) {
        this.showPending(source.url);
        return false;
      }
    }
    await this.loadSelected();
    return this.app.model !== undefined;
  }

  /** Says which server the link names and waits for Load. */
  private showPending(url: string): void {
    const notice = $('#model-pending');
    notice.replaceChildren(
      h('b', {}, 'This link asks to load a model from another server: '),
      h('code', { 'data-testid': 'model-pending-url' }, url),
      '. Nothing has been downloaded. Check the address, then press Load.',
    );
    notice.hidden = false;
    this.app.setStatus('waiting');
    this.app.setBusy('idle');
  }

  private selectKind(kind: SourceKind): void {
    this.kind = kind;
    for (const button of document.querySelectorAll<HTMLButtonElement>('[data-source]')) button.setAttribute('aria-checked', String(button.dataset.source === kind));
    for (const pane of document.querySelectorAll<HTMLElement>('[data-pane]')) pane.hidden = pane.dataset.pane !== kind;
    this.refreshControls();
    if (kind === 'hub') this.input.focus();
  }

  private async loadSelected(): Promise<void> {
    if (this.kind === 'local') {
      $<HTMLInputElement>('#folder-input').click();
      return;
    }
    let source: ModelSource;
    try {
      source = this.kind === 'demo' ? demoSource() : this.hubSource(this.input.value);
    } catch (e) {
      this.app.setStatus({ error: e });
      this.app.showError(e);
      return;
    }
    this.app.setUrlParams({ model: this.kind === 'demo' ? undefined : this.input.value.trim() });
    await this.load(source);
  }

  async loadFiles(files: File[]): Promise<void> {
    if (files.length === 0) return;
    this.selectKind('local');
    const label = await localModelName(files);
    this.app.setUrlParams({ model: undefined });
    await this.load({ kind: 'files', files, label });
  }

  private hubSource(value: string): ModelSource {
    const text = value.trim();
    if (!text) throw Object.assign(new Error('enter a Hugging Face model id (like openai-community/gpt2) or a URL'), { name: 'ConfigError' });
    // A path on this site ("./models/x/", "/x/") is a URL relative to the page.
    let url: string;
    try {
      url = /^[./]/.test(text) ? new URL(text.endsWith('/') ? text : `${text}/`, location.href).href : modelBaseUrl(text, this.hub);
    } catch (e) {
      // By name: a minified bundle renames the library's error classes.
      throw Object.assign(new Error((e as Error).message), { name: 'ConfigError' });
    }
    return { kind: 'url', url, label: text, cache: true };
  }

  private async load(source: ModelSource): Promise<void> {
    const { app } = this;
    $('#model-pending').hidden = true;
    app.model = undefined;
    app.clearError();
    app.setStatus('loading');
    app.setBusy('loading');
    this.downloads = new Map();
    this.upload = undefined;
    $('#load-progress').hidden = false;
    $('#download-status').hidden = true;
    $('#model-info').hidden = true;
    setText($('#progress-file'), source.kind === 'files' ? `reading ${source.label}` : 'connecting…');
    $('#progress-badge').hidden = true;
    setText(byTestId('progress-bytes'), '');
    setText($('#progress-rate'), '');
    setText($('#progress-stage'), source.kind === 'url' ? source.url : '');
    $('#progress-fill').style.width = '0';
    try {
      app.model = await app.client.load(source);
      this.renderLoaded(source);
      app.setStatus('ready');
    } catch (e) {
      $('#load-progress').hidden = true;
      app.setStatus({ error: e });
      app.showError(e);
    } finally {
      app.setBusy('idle');
      void this.refreshCacheInfo();
    }
  }

  private renderProgress(): void {
    const files = [...this.downloads.values()];
    const current = files.find((f) => !f.done) ?? files[files.length - 1];
    const upload = this.upload;
    const fraction = upload && upload.totalBytes > 0 ? upload.loadedBytes / upload.totalBytes : current && current.total > 0 ? current.loaded / current.total : 0;
    $('#progress-fill').style.width = `${(fraction * 100).toFixed(1)}%`;
    if (current) {
      setText($('#progress-file'), current.file);
      const badge = $('#progress-badge');
      badge.hidden = false;
      setText(badge, current.fromCache ? 'from cache' : 'downloading');
      badge.className = `badge ${current.fromCache ? 'ok' : ''}`;
      const total = current.total > 0 ? ` / ${fmt.bytes(current.total)} · ${fmt.percent(current.loaded / current.total)}` : '';
      setText(byTestId('progress-bytes'), `${fmt.bytes(current.loaded)}${total}`);
      setText($('#progress-rate'), fmt.rate(current.rate));
    } else if (upload) {
      setText(byTestId('progress-bytes'), `${fmt.bytes(upload.loadedBytes)} / ${fmt.bytes(upload.totalBytes)} · ${fmt.percent(fraction)}`);
    }
    if (upload) setText($('#progress-stage'), `to the GPU: ${upload.tensor}`);
  }

  private renderLoaded(source: ModelSource): void {
    const model = this.app.model!;
    const files = [...this.downloads.values()];
    const downloaded = files.reduce((n, f) => n + f.loaded, 0);
    const fromCache = files.length > 0 && files.every((f) => f.fromCache);
    $('#load-progress').hidden = true;
    const status = $('#download-status');
    status.hidden = false;
    status.replaceChildren(
      h('span', { class: 'badge ok' }, 'loaded'),
      ` in ${fmt.seconds(model.loadMs)} · `,
      source.kind === 'files'
        ? `${fmt.bytes(model.info.weightBytes)} of weights read from local files`
        : fromCache
          ? h('span', {}, `${fmt.bytes(downloaded)} `, h('b', {}, 'from cache'), ' (no download)')
          : `${fmt.bytes(downloaded)} downloaded${files[0]?.rate ? ` at ${fmt.rate(files.reduce((r, f) => Math.max(r, f.rate), 0))}` : ''}`,
    );
    const { info, shape } = model;
    const rows: [string, string][] = [
      ['name', source.label ?? ''],
      ['family', info.family === 'gpt_neox' ? 'GPT-NeoX' : 'GPT-2'],
      ['parameters', fmt.params(info.parameters)],
      ['layers × width', `${shape.layers} × ${shape.hidden} (${shape.heads} heads)`],
      ['vocabulary', fmt.count(shape.vocab)],
      ['context', `${fmt.count(shape.contextLength)} tokens`],
      ['checkpoint dtype', `${info.dtype} (${info.weightFormat} on the GPU)`],
    ];
    const dl = $('#model-info');
    dl.replaceChildren(...rows.flatMap(([k, v]) => [h('dt', {}, k), h('dd', { title: v }, v)]));
    dl.hidden = false;
  }

  private refreshControls(): void {
    const busy = this.app.busy;
    const loading = busy === 'loading';
    const load = $<HTMLButtonElement>('#load');
    load.disabled = busy !== 'idle';
    setText(load, 'Load');
    load.hidden = this.kind === 'local';
    $('#cancel-load').hidden = !loading;
    for (const button of document.querySelectorAll<HTMLButtonElement>('[data-source]')) button.disabled = busy !== 'idle';
    for (const input of document.querySelectorAll<HTMLInputElement>('#folder-input, #files-input')) input.disabled = busy !== 'idle';
  }

  private refreshCacheInfo(): Promise<void> {
    return this.cache.refresh();
  }
}

function demoSource(): ModelSource {
  // Kept in the Cache API like any other model, so that the site works offline once visited (the app shell is in the
  // service worker, sw.ts). The cached copy is kept until deleted in the cache panel: the embedded model is fixed.
  return { kind: 'url', url: new URL(DEMO_MODEL_PATH, location.href).href, label: 'gpt2-shakespeare (demo)', cache: true };
}

