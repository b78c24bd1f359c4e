// What the views share: the engine in its worker (the library's WorkerEngine), the loaded model and GPU, what the engine is busy with, the status pill,
// the error banner, and the benchmark records of this session. Views subscribe to `onChange` to enable and disable
// their controls; nothing else is global.
import { WorkerEngine, type BenchRecord, type GpuReport, type LoadedModel } from '../src/index.ts';
import { $, byTestId, setText } from './dom.ts';
import { explain } from './explain.ts';
import type { PageParams, View } from './params.ts';
import { VIEWS } from './params.ts';

/** What the engine is doing; at most one of these at a time (generation and benchmark would skew each other). */
export type Busy = 'idle' | 'loading' | 'generating' | 'benchmarking';

/** The status a test or a script reads from [data-testid=status]. */
export type Status = 'loading' | 'waiting' | 'ready' | 'generating' | 'benchmarking' | 'done' | { error: unknown };

export class App {
  /** The engine, in a Web Worker (worker.ts runs the library's serveEngineInWorker). */
  readonly client = new WorkerEngine(new Worker(new URL('./worker.ts', import.meta.url), { type: 'module', name: 'gpt-webgpu engine' }));
  model: LoadedModel | undefined;
  gpu: GpuReport | undefined;
  busy: Busy = 'loading';
  /** Benchmark records made on this page, newest last. */
  readonly sessionRecords: BenchRecord[] = [];
  private readonly listeners = new Set<() => void>();
  private readonly viewListeners = new Set<(view: View) => void>();
  private toastTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(readonly params: PageParams) {
    $('#error-close').onclick = () => this.clearError();
    for (const tab of document.querySelectorAll<HTMLButtonElement>('.tabs [data-view]')) tab.onclick = () => this.setView(tab.dataset.view as View);
  }

  onChange(listener: () => void): void {
    this.listeners.add(listener);
  }

  changed(): void {
    for (const listener of this.listeners) listener();
  }

  setBusy(busy: Busy): void {
    this.busy = busy;
    this.changed();
  }

  setStatus(status: Status): void {
    const pill = $('#status-pill');
    const text = typeof status === 'string' ? status : `error: ${explain(status.error).message}`;
    pill.dataset.state = typeof status === 'string' ? status : 'error';
    setText(byTestId('status'), text);
    pill.title = text;
  }

  showError(error: unknown): void {
    const { title, message, hint } = explain(error);
    setText($('#error-title'), title);
    // Sentence case, unless the message starts with a name that must keep its case (a URL, a file, an identifier).
    setText($('#error-message'), /^[a-z]+[ ,]/.test(message) ? message.charAt(0).toUpperCase() + message.slice(1) : message);
    const hintElement = $('#error-hint');
    hintElement.hidden = !hint;
    setText(hintElement, hint ?? '');
    $('#error-banner').hidden = false;
  }

  clearError(): void {
    $('#error-banner').hidden = true;
  }

  toast(message: string): void {
    const toast = $('#toast');
    toast.textContent = message;
    toast.hidden = false;
    clearTimeout(this.toastTimer);
    this.toastTimer = setTimeout(() => (toast.hidden = true), 3000);
  }

  get view(): View {
    return ($<HTMLButtonElement>('.tabs [aria-selected="true"]').dataset.view as View) ?? 'generate';
  }

  onView(listener: (view: View) => void): void {
    this.viewListeners.add(listener);
  }

  setView(view: View): void {
    for (const v of VIEWS) {
      $(`.view[data-view="${v}"]`).hidden = v !== view;
      $(`.tabs [data-view="${v}"]`).setAttribute('aria-selected', String(v === view));
    }
    const url = new URL(location.href);
    if (view === 'generate') url.searchParams.delete('view');
    else url.searchParams.set('view', view);
    history.replaceState(null, '', url);
    for (const listener of this.viewListeners) listener(view);
  }

  /** Sets or removes URL parameters without reloading (so a reload or a shared link opens the same state). */
  setUrlParams(values: Record<string, string | undefined>): void {
    const url = new URL(location.href);
    for (const [key, value] of Object.entries(values)) {
      if (value === undefined) url.searchParams.delete(key);
      else url.searchParams.set(key, value);
    }
    history.replaceState(null, '', url);
  }
}
