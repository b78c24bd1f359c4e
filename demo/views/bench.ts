// The benchmark view: the fixed protocol (standard, or quick for slow adapters), a run with progress and cancel, and the
// record as charts and tables, to download as JSON or to compare.
import { DEFAULT_PROTOCOL, type BenchProtocol, type BenchRecord } from '../../src/index.ts';
import type { App } from '../app.ts';
import type { ChartSlot } from '../charts.ts';
import { $, byTestId, download, h, setText } from '../dom.ts';
import * as fmt from '../format.ts';
import { adapterName, browserName, chartCard, itlChart, latencyTable, modelName, recordTitle, runtimeName, summaryCards, throughputChart, throughputTable, ttftChart } from './report.ts';

/** A few seconds on a software adapter: short prompts, few tokens, one repetition. */
export const QUICK_PROTOCOL: BenchProtocol = {
  promptLengths: [1, 16, 64],
  newTokens: 8,
  repetitions: 1,
  concurrency: [1, 2, 4],
  concurrencyPromptLength: 8,
  seed: 1,
};

export const PROTOCOLS = { standard: DEFAULT_PROTOCOL, quick: QUICK_PROTOCOL } as const;

export class BenchView {
  private readonly select = $<HTMLSelectElement>('#bench-protocol');
  private readonly label = $<HTMLInputElement>('#bench-label');
  private readonly runButton = $<HTMLButtonElement>('#bench-run');
  private slots: ChartSlot[] = [];
  private chosen = false;
  /** Called with a record the user wants to compare. */
  onCompare: (record: BenchRecord) => void = () => {};

  constructor(private readonly app: App) {
    if (app.params.protocol) {
      this.select.value = app.params.protocol;
      this.chosen = true;
    }
    if (app.params.label) this.label.value = app.params.label;
    this.select.onchange = () => {
      this.chosen = true;
      this.renderProtocol();
    };
    this.runButton.onclick = () => void this.run();
    $('#bench-cancel').onclick = () => void app.client.call('cancel', { what: 'bench' });
    app.client.on('benchProgress', ({ message, fraction }) => {
      $('#bench-progress-fill').style.width = `${(fraction * 100).toFixed(1)}%`;
      setText($('#bench-progress-text'), message);
      setText($('#bench-progress-percent'), fmt.percent(fraction));
      setText(byTestId('bench-status'), `running: ${message}`);
    });
    app.onChange(() => this.refreshControls());
    this.renderProtocol();
  }

  /** Software adapters default to the quick protocol (unless the URL or the user chose). */
  adapterKnown(software: boolean): void {
    if (!this.chosen && software) {
      this.select.value = 'quick';
      this.renderProtocol();
    }
    this.label.placeholder = this.defaultLabel();
  }

  /** "google swiftshader · Chrome 156": the adapter and the browser. */
  private defaultLabel(): string {
    const a = this.app.gpu?.adapter;
    const adapter = a ? a.device || a.description || [a.vendor, a.architecture].filter(Boolean).join(' ') || 'GPU' : 'GPU';
    return `${adapter} · ${browserName(navigator.userAgent)}`;
  }

  get protocol(): BenchProtocol {
    return PROTOCOLS[this.select.value as keyof typeof PROTOCOLS] ?? DEFAULT_PROTOCOL;
  }

  private renderProtocol(): void {
    const p = this.protocol;
    const requests = 1 + p.promptLengths.length * p.repetitions + p.concurrency.reduce((a, b) => a + b, 0);
    const tokens = 2 + (p.promptLengths.length * p.repetitions + p.concurrency.reduce((a, b) => a + b, 0)) * p.newTokens;
    const rows: [string, string][] = [
      ['Latency: prompt lengths (tokens), one request at a time', p.promptLengths.join(', ')],
      ['Repetitions per prompt length', String(p.repetitions)],
      ['Throughput: concurrent streams', p.concurrency.join(', ')],
      ['Prompt length of each concurrent stream', `${p.concurrencyPromptLength} tokens`],
      ['New tokens per request', String(p.newTokens)],
      ['In all (with one warm-up request)', `${requests} requests, ${fmt.count(tokens)} generated tokens`],
    ];
    $('#bench-protocol-table').replaceChildren(h('tbody', {}, ...rows.map(([k, v]) => h('tr', {}, h('th', {}, k), h('td', { class: 'num' }, v)))));
  }

  private refreshControls(): void {
    const busy = this.app.busy;
    this.runButton.disabled = busy !== 'idle' || !this.app.model;
    this.runButton.title = this.app.model ? '' : 'Load a model first';
    $('#bench-cancel').hidden = busy !== 'benchmarking';
    this.select.disabled = busy === 'benchmarking';
  }

  async run(): Promise<void> {
    const { app } = this;
    if (app.busy !== 'idle' || !app.model) return;
    app.clearError();
    app.setBusy('benchmarking');
    app.setStatus('benchmarking');
    $('#bench-progress').hidden = false;
    $('#bench-progress-fill').style.width = '0';
    setText($('#bench-progress-text'), 'warming up');
    setText($('#bench-progress-percent'), '0 %');
    setText(byTestId('bench-status'), 'running');
    try {
      const label = this.label.value.trim() || this.defaultLabel();
      const record = await app.client.bench({ protocol: this.protocol, label });
      app.sessionRecords.push(record);
      this.renderResult(record);
      setText(byTestId('bench-status'), 'done');
      app.setStatus('done');
      app.toast('Benchmark done');
    } catch (e) {
      const cancelled = (e as Error).name === 'Cancelled';
      setText(byTestId('bench-status'), cancelled ? 'cancelled' : `error: ${(e as Error).message}`);
      if (cancelled) app.setStatus('ready');
      else {
        app.setStatus({ error: e });
        app.showError(e);
      }
    } finally {
      $('#bench-progress').hidden = true;
      app.setBusy('idle');
    }
  }

  renderResult(record: BenchRecord): void {
    for (const slot of this.slots) slot.destroy();
    const ttft = chartCard('Time to first token by prompt length', 'one request at a time', 'bench-ttft-chart');
    const throughput = chartCard('Throughput by concurrency', 'tokens/s of all streams; ITL on the right axis', 'bench-throughput-chart');
    const itl = chartCard('Inter-token latency distribution', 'every gap between two tokens, by phase', 'bench-itl-chart', true);
    this.slots = [ttft.slot, throughput.slot, itl.slot];
    const s = record.summary;
    const engineRows: [string, string][] = [
      ['steps', `${fmt.count(s.steps.prefill)} prefill, ${fmt.count(s.steps.decode)} decode`],
      ['tokens/s inside prefill / decode steps (all streams)', `${fmt.perSecond(s.prefillTokensPerSecond)} · ${fmt.perSecond(s.decodeTokensPerSecond)}`],
      ['preemptions', fmt.count(s.preemptions)],
      ['KV blocks (peak / pool)', `${fmt.count(s.kv.peakBlocksUsed)} / ${fmt.count(s.kv.totalBlocks)}`],
      ...(s.gpuMsPerStep ? ([['GPU ms per step (p50)', `${fmt.ms(s.gpuMsPerStep.prefill.p50)} prefill · ${fmt.ms(s.gpuMsPerStep.decode.p50)} decode`]] as [string, string][]) : []),
    ];
    const result = byTestId('bench-result');
    result.replaceChildren(
      h(
        'div',
        { class: 'result' },
        h(
          'div',
          { class: 'card' },
          h(
            'div',
            { class: 'result-head' },
            h('h2', {}, recordTitle(record)),
            h('button', { class: 'button secondary', 'data-testid': 'bench-download', onclick: () => download(recordFileName(record), `${JSON.stringify(record, null, 2)}\n`) }, 'Download JSON'),
            h('button', { class: 'button', 'data-testid': 'bench-compare', onclick: () => this.onCompare(record) }, 'Compare…'),
          ),
          h('p', { class: 'muted small' }, `${modelName(record)} (${record.model.dtype}, ${fmt.params(record.model.parameters, record.model.weightBytes)}) · ${adapterName(record)}${record.adapter.software ? ' (software)' : ''} · ${runtimeName(record)} · ${new Date(record.createdAt).toLocaleString()}`),
          summaryCards(record),
        ),
        h('div', { class: 'chart-grid' }, ttft.card, throughput.card, itl.card),
        h('div', { class: 'card' }, h('div', { class: 'card-head' }, h('h3', {}, 'Latency by prompt length'), h('span', { class: 'muted small' }, 'one request at a time')), latencyTable(record)),
        h('div', { class: 'card' }, h('div', { class: 'card-head' }, h('h3', {}, 'Throughput by concurrency'), h('span', { class: 'muted small' }, 'streams submitted together')), throughputTable(record)),
        h(
          'div',
          { class: 'card' },
          h('div', { class: 'card-head' }, h('h3', {}, 'Engine over the run'), h('span', { class: 'muted small' }, 'everything this engine served since it was loaded')),
          h('dl', { class: 'facts engine-facts' }, ...engineRows.flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)])),
        ),
      ),
    );
    result.hidden = false;
    ttftChart(ttft.slot, [record], [0]);
    throughputChart(throughput.slot, [record], [0]);
    itlChart(itl.slot, [record], [0]);
  }
}

export function recordFileName(r: BenchRecord): string {
  const slug = recordTitle(r).toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 60);
  return `gpt-webgpu-bench-${slug || 'run'}-${r.createdAt.slice(0, 19).replace(/[:T]/g, '-')}.json`;
}
