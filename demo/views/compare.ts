// The compare view: benchmark records from files (picked or dropped) and from this session, side by side: TTFT by
// prompt length, the ITL distribution of each, throughput by concurrency, and a table of the key numbers.
import { parseBenchRecord, type BenchRecord } from '../../src/index.ts';
import type { App } from '../app.ts';
import type { ChartSlot } from '../charts.ts';
import { color } from '../charts.ts';
import { $, byTestId, h } from '../dom.ts';
import * as fmt from '../format.ts';
import { adapterName, chartCard, itlChart, keyNumbers, modelName, protocolText, recordTitle, runtimeName, table, throughputChart, ttftChart } from './report.ts';

interface Entry {
  record: BenchRecord;
  /** Where it came from: a file name, or "this session". */
  source: string;
  /** Palette index, kept while the entry stays. */
  color: number;
}

export class CompareView {
  private entries: Entry[] = [];
  private slots: ChartSlot[] = [];
  private nextColor = 0;

  constructor(private readonly app: App) {
    const input = $<HTMLInputElement>('#compare-file');
    input.onchange = () => {
      const files = [...(input.files ?? [])];
      input.value = '';
      void this.addFiles(files);
    };
    const zone = $('#compare-dropzone');
    zone.ondragover = (e) => {
      e.preventDefault();
      zone.classList.add('over');
    };
    zone.ondragleave = () => zone.classList.remove('over');
    zone.ondrop = (e) => {
      e.preventDefault();
      e.stopPropagation();
      zone.classList.remove('over');
      void this.addFiles([...(e.dataTransfer?.files ?? [])]);
    };
    $('#compare-add-session').onclick = () => {
      for (const record of app.sessionRecords) this.add(record, 'this session');
      this.render();
    };
    $('#compare-clear').onclick = () => {
      this.entries = [];
      this.render();
    };
    app.onChange(() => this.refreshControls());
    this.render();
  }

  /** Reads records from files; the invalid ones are listed with what is wrong with them. */
  async addFiles(files: File[]): Promise<void> {
    const errors: string[] = [];
    for (const file of files) {
      let json: unknown;
      try {
        json = JSON.parse(await file.text());
      } catch (e) {
        errors.push(`${file.name}: not valid JSON (${(e as Error).message})`);
        continue;
      }
      // A JSON array of records is accepted too (several runs in one file).
      const values = Array.isArray(json) ? json : [json];
      values.forEach((value, i) => {
        try {
          this.add(parseBenchRecord(value, values.length > 1 ? `${file.name} [${i}]` : file.name), file.name);
        } catch (e) {
          errors.push((e as Error).message);
        }
      });
    }
    this.showErrors(errors);
    this.render();
  }

  add(record: BenchRecord, source: string): void {
    // The same run added twice (the same file, or the session's run again) is shown once.
    if (this.entries.some((e) => e.record.createdAt === record.createdAt && recordTitle(e.record) === recordTitle(record))) return;
    this.entries.push({ record, source, color: this.nextColor++ });
  }

  private showErrors(errors: string[]): void {
    const list = byTestId('compare-error');
    list.replaceChildren(...errors.map((e) => h('li', {}, e)));
    list.hidden = errors.length === 0;
  }

  private refreshControls(): void {
    const button = $<HTMLButtonElement>('#compare-add-session');
    const n = this.app.sessionRecords.length;
    button.disabled = n === 0;
    button.title = n === 0 ? 'Run a benchmark first' : `Add the ${n === 1 ? 'benchmark' : `${n} benchmarks`} run on this page`;
  }

  render(): void {
    this.refreshControls();
    $('#compare-clear').hidden = this.entries.length === 0;
    byTestId('compare-records').replaceChildren(
      ...this.entries.map((entry) =>
        h(
          'li',
          { title: `${entry.source}\n${protocolText(entry.record)}` },
          h('span', { class: 'swatch', style: `background:${color(entry.color)}` }),
          h('span', { class: 'text' }, recordTitle(entry.record)),
          h('button', { 'aria-label': `Remove ${recordTitle(entry.record)}`, onclick: () => this.remove(entry) }, '×'),
        ),
      ),
    );
    for (const slot of this.slots) slot.destroy();
    this.slots = [];
    const result = byTestId('compare-result');
    if (this.entries.length === 0) {
      result.replaceChildren(
        h(
          'div',
          { class: 'card empty-state' },
          h('b', {}, 'No records yet'),
          'Run a benchmark in the Benchmark view, or load JSON records: from this page (Download JSON) or from the command line: ',
          h('code', {}, 'npm run --silent cli -- bench --json > run.json'),
        ),
      );
      return;
    }
    const records = this.entries.map((e) => e.record);
    const colors = this.entries.map((e) => e.color);
    const ttft = chartCard('Time to first token by prompt length', 'p50, one request at a time', 'compare-ttft-chart');
    const throughput = chartCard('Throughput by concurrency', 'generated tokens/s of all streams', 'compare-throughput-chart');
    const itl = chartCard('Inter-token latency distribution', 'every gap between two tokens of each run', 'compare-itl-chart', true);
    this.slots = [ttft.slot, throughput.slot, itl.slot];
    const protocols = new Set(records.map((r) => JSON.stringify(r.protocol)));
    // Text cells carry a second, muted line, so that the figures fit beside them without scrolling.
    const cell = (main: string | Node, sub: string) => h('div', { class: 'cell' }, h('div', {}, main), h('div', { class: 'sub' }, sub));
    const rows = this.entries.map(({ record: r, color: c }) => {
      const k = keyNumbers(r);
      return [
        cell(h('span', {}, h('span', { class: 'swatch-cell', style: `background:${color(c)}` }), recordTitle(r)), `${runtimeName(r)} · ${new Date(r.createdAt).toLocaleDateString()}`),
        cell(adapterName(r), r.adapter.software ? 'software adapter' : `${r.adapter.vendor || 'hardware'}${r.adapter.featureLevel === 'compatibility' ? ' · compatibility' : ''}`),
        cell(modelName(r), `${fmt.params(r.model.parameters, r.model.weightBytes)} · ${r.model.dtype}`),
        k.ttft ? cell(fmt.ms(k.ttft.ms), `prompt ${k.ttft.promptLength}`) : '–',
        cell(fmt.ms(k.itl), '1 stream'),
        k.singleTokensPerSecond ? fmt.perSecond(k.singleTokensPerSecond) : '–',
        k.top ? cell(fmt.perSecond(k.top.tokensPerSecond), `${k.top.concurrency} streams`) : '–',
        k.prefill ? cell(fmt.perSecond(k.prefill.tokensPerSecond), `prompt ${k.prefill.promptLength}`) : '–',
      ];
    });
    const headers = ['run', 'adapter', 'model', 'TTFT p50', 'ITL p50', 'tok/s, 1 stream', 'best tok/s', 'prefill tok/s'];
    result.replaceChildren(
      h(
        'div',
        { class: 'result' },
        protocols.size > 1 ? h('p', { class: 'note', 'data-testid': 'compare-protocol-note' }, 'These runs used different protocols (hover a record above to see which): compare figures at the same prompt length or concurrency.') : null,
        h('div', { class: 'chart-grid' }, ttft.card, throughput.card, itl.card),
        h('div', { class: 'card' }, h('div', { class: 'card-head' }, h('h3', {}, 'Runs')), compareTable(headers, rows)),
      ),
    );
    ttftChart(ttft.slot, records, colors);
    throughputChart(throughput.slot, records, colors);
    itlChart(itl.slot, records, colors);
  }

  private remove(entry: Entry): void {
    this.entries = this.entries.filter((e) => e !== entry);
    this.render();
  }
}

/** Text columns (run, adapter, model) left and allowed to wrap, figures right. */
function compareTable(headers: string[], rows: (string | Node)[][]): HTMLElement {
  const element = table(headers, rows, 'compare-table');
  for (const cell of element.querySelectorAll<HTMLElement>('th:nth-child(-n+3), td:nth-child(-n+3)')) {
    cell.classList.remove('num');
    cell.classList.add('wrap');
  }
  return element;
}
