// Benchmark records as charts and tables: one record (the benchmark view's result) or several side by side (the
// compare view). Records may come from the browser or from the CLI in Node; both have the same format.
import type { BenchRecord } from '../../src/index.ts';
import { axisTitle, ChartSlot, color, tint } from '../charts.ts';
import { h } from '../dom.ts';
import * as fmt from '../format.ts';

/** A chart card: a title, a one-line explanation, a canvas; the slot is filled once the card is in the page. */
export function chartCard(title: string, note: string, testid: string, wide = false): { card: HTMLElement; slot: ChartSlot } {
  const canvas = h('canvas', { 'aria-label': title });
  const card = h(
    'div',
    { class: `card${wide ? ' wide' : ''}` },
    h('div', { class: 'card-head' }, h('h3', {}, title), h('span', { class: 'muted small' }, note)),
    h('div', { class: 'chart-box', 'data-testid': testid }, canvas),
  );
  return { card, slot: new ChartSlot(canvas) };
}

export function recordTitle(r: BenchRecord): string {
  return r.label || `${adapterName(r)} (${r.environment.runtime})`;
}

export function adapterName(r: BenchRecord): string {
  const a = r.adapter;
  return a.device || a.description || [a.vendor, a.architecture].filter(Boolean).join(' ') || 'unknown adapter';
}

/** "Chrome 156", "Node 20.20.2". */
export function runtimeName(r: BenchRecord): string {
  const env = r.environment;
  if (env.runtime === 'node') return `Node ${env.nodeVersion?.replace(/^v/, '') ?? ''}`.trim();
  return browserName(env.userAgent ?? '');
}

/** "Chrome 156", "Safari 26", "Firefox 141" from a user agent string. */
export function browserName(ua: string): string {
  // Order matters: Edge's agent also says Chrome, and Chrome's also says Safari.
  const known: [RegExp, string][] = [
    [/Edg\/(\d+)/, 'Edge'],
    [/Firefox\/(\d+)/, 'Firefox'],
    [/HeadlessChrome\/(\d+)/, 'Chrome (headless)'],
    [/Chrome\/(\d+)/, 'Chrome'],
    [/Version\/(\d+).*Safari/, 'Safari'],
  ];
  for (const [pattern, name] of known) {
    const match = pattern.exec(ua);
    if (match) return `${name} ${match[1]}`;
  }
  return 'browser';
}

export function modelName(r: BenchRecord): string {
  return fmt.shortModelName(r.model.name);
}

/** The figures a person compares first. */
export function keyNumbers(r: BenchRecord) {
  const first = r.latency[0];
  const last = r.latency[r.latency.length - 1];
  const single = r.throughput.find((t) => t.concurrency === 1);
  const top = r.throughput.reduce<(typeof r.throughput)[number] | undefined>((best, t) => (!best || t.decodeTokensPerSecond > best.decodeTokensPerSecond ? t : best), undefined);
  return {
    ttft: first ? { ms: first.ttftMs.p50, promptLength: first.promptLength } : undefined,
    itl: first?.itlMs.p50 ?? single?.itlMs.p50,
    singleTokensPerSecond: single?.decodeTokensPerSecond,
    top: top ? { tokensPerSecond: top.decodeTokensPerSecond, concurrency: top.concurrency } : undefined,
    prefill: last ? { tokensPerSecond: last.prefillTokensPerSecond, promptLength: last.promptLength } : undefined,
  };
}

export function summaryCards(r: BenchRecord): HTMLElement {
  const k = keyNumbers(r);
  const card = (label: string, value: string, sub: string, testid: string, title: string) =>
    h('div', { class: 'metric', title }, h('span', { class: 'metric-label' }, label), h('b', { 'data-testid': testid }, value), h('span', { class: 'metric-sub' }, sub));
  return h(
    'div',
    { class: 'summary-cards' },
    card('TTFT p50', fmt.ms(k.ttft?.ms), k.ttft ? `prompt of ${k.ttft.promptLength} token${k.ttft.promptLength === 1 ? '' : 's'}` : '', 'bench-ttft', 'Median time to first token for the shortest prompt'),
    card('ITL p50', fmt.ms(k.itl), 'one stream', 'bench-itl', 'Median inter-token latency with one request at a time'),
    card('Decode', fmt.perSecond(k.top?.tokensPerSecond), k.top ? `tokens/s at ${k.top.concurrency} stream${k.top.concurrency === 1 ? '' : 's'}` : '', 'bench-throughput', 'Best total generation rate over the concurrency levels'),
    card('Prefill', fmt.perSecond(k.prefill?.tokensPerSecond), k.prefill ? `prompt tokens/s at ${k.prefill.promptLength}` : '', 'bench-prefill', 'Prompt tokens per second of TTFT, for the longest prompt'),
  );
}

/** TTFT p50 by prompt length, one line per record. */
export function ttftChart(slot: ChartSlot, records: BenchRecord[], colors: number[]): void {
  const single = records.length === 1;
  const lengths = single ? records[0].latency.map((l) => l.promptLength) : [];
  slot.render({
    type: single ? 'bar' : 'line',
    data: {
      labels: single ? lengths.map(String) : undefined,
      datasets: single
        ? [
            { label: 'p50', data: lengths.map((n) => records[0].latency.find((l) => l.promptLength === n)?.ttftMs.p50 ?? null), backgroundColor: color(colors[0]) },
            { label: 'p90', data: lengths.map((n) => records[0].latency.find((l) => l.promptLength === n)?.ttftMs.p90 ?? null), backgroundColor: tint(color(colors[0]), 0.35) },
          ]
        : recordLines(records, colors, (r) => r.latency.map((l) => ({ x: l.promptLength, y: l.ttftMs.p50 }))),
    },
    options: {
      animation: false,
      // Several records: a linear axis, so that prefill time against prompt length shows its true (near-linear) shape.
      scales: {
        x: single ? { title: axisTitle('prompt length (tokens)') } : { type: 'linear', beginAtZero: true, title: axisTitle('prompt length (tokens)') },
        y: { beginAtZero: true, title: axisTitle(single ? 'TTFT (ms)' : 'TTFT p50 (ms)') },
      },
      plugins: {
        legend: { display: true, position: 'bottom', labels: { boxWidth: 10, boxHeight: 10 } },
        tooltip: { callbacks: { label: (item: { dataset: { label?: string }; parsed: { y: number | null } }) => `${item.dataset.label}: ${fmt.ms(item.parsed.y ?? NaN)}` } },
      },
    },
  } as never);
}

/** One line per record (the compare view), in each record's colour. */
function recordLines(records: BenchRecord[], colors: number[], points: (r: BenchRecord) => { x: number; y: number }[]) {
  return records.map((r, i) => ({ label: recordTitle(r), data: points(r), borderColor: color(colors[i]), backgroundColor: color(colors[i]), tension: 0 }));
}

/** Total decode tokens/s by concurrency, one line per record (one record: bars, with ITL p50 on a second axis). */
export function throughputChart(slot: ChartSlot, records: BenchRecord[], colors: number[]): void {
  const single = records.length === 1;
  const levels = single ? records[0].throughput.map((t) => t.concurrency) : [];
  const at = (r: BenchRecord, c: number) => r.throughput.find((t) => t.concurrency === c);
  slot.render({
    type: single ? 'bar' : 'line',
    data: {
      labels: single ? levels.map(String) : undefined,
      datasets: single
        ? [
            { type: 'bar', label: 'tokens/s (all streams)', data: levels.map((c) => at(records[0], c)?.decodeTokensPerSecond ?? null), backgroundColor: color(colors[0]), yAxisID: 'y', order: 1 },
            { type: 'line', label: 'ITL p50 (ms)', data: levels.map((c) => at(records[0], c)?.itlMs.p50 ?? null), borderColor: color(1), backgroundColor: color(1), yAxisID: 'y1', tension: 0.15, order: 0, borderWidth: 2.5, pointRadius: 4 },
          ]
        : recordLines(records, colors, (r) => r.throughput.map((t) => ({ x: t.concurrency, y: t.decodeTokensPerSecond }))),
    },
    options: {
      animation: false,
      scales: {
        x: single ? { title: axisTitle('concurrent streams') } : { type: 'linear', beginAtZero: true, ticks: { precision: 0 }, title: axisTitle('concurrent streams') },
        y: { beginAtZero: true, title: axisTitle('tokens/s, all streams') },
        ...(single ? { y1: { beginAtZero: true, position: 'right', grid: { drawOnChartArea: false }, title: axisTitle('ITL p50 (ms)') } } : {}),
      },
      plugins: { legend: { display: true, position: 'bottom', labels: { boxWidth: 10, boxHeight: 10 } } },
    },
  } as never);
}

/** Box plots of inter-token latency: one box per record (compare), or per phase of one record (benchmark result). */
export function itlChart(slot: ChartSlot, records: BenchRecord[], colors: number[]): void {
  const single = records.length === 1;
  let labels: string[];
  let samples: number[][];
  let fills: string[];
  if (single) {
    const r = records[0];
    const phases = new Map<string, number[]>();
    for (const q of r.requests ?? []) {
      const key = q.phase === 'latency' ? 'latency runs (1 stream)' : `${q.concurrency} stream${q.concurrency === 1 ? '' : 's'}`;
      phases.set(key, [...(phases.get(key) ?? []), ...q.metrics.itlMs]);
    }
    if (phases.size === 0) phases.set('all', r.itlSamplesMs);
    labels = [...phases.keys()];
    samples = [...phases.values()];
    fills = labels.map(() => tint(color(colors[0]), 0.35));
  } else {
    labels = records.map(recordTitle);
    samples = records.map((r) => r.itlSamplesMs ?? []);
    fills = colors.map((c) => tint(color(c), 0.35));
  }
  slot.render({
    type: 'boxplot',
    data: {
      labels,
      datasets: [
        {
          label: 'inter-token latency (ms)',
          data: samples,
          backgroundColor: fills,
          borderColor: single ? color(colors[0]) : colors.map((c) => color(c)),
          borderWidth: 1.5,
          outlierRadius: 2,
          itemRadius: 0,
          medianColor: '#111827',
          coef: 1.5,
        },
      ],
    },
    options: {
      animation: false,
      indexAxis: 'y',
      scales: { x: { beginAtZero: true, title: axisTitle('ms between tokens (box: quartiles, whiskers: 1.5 IQR)') }, y: { ticks: { autoSkip: false, callback: shortTick } } },
      plugins: { legend: { display: false } },
    },
  } as never);
}

/**
 * A category label short enough for the chart's width (Chart.js clips a long label at the canvas edge instead): about
 * a third of the width, with an ellipsis; the tooltip keeps the full text.
 */
function shortTick(this: { chart: { width: number }; getLabelForValue(value: number): string }, value: number | string): string {
  const label = this.getLabelForValue(Number(value));
  const max = Math.max(10, Math.floor(this.chart.width / 3 / 6.5));
  return label.length > max ? `${label.slice(0, max - 1)}…` : label;
}

export function latencyTable(r: BenchRecord): HTMLElement {
  return table(
    ['prompt tokens', 'TTFT p50', 'TTFT p90', 'TTFT p99', 'ITL p50', 'ITL p90', 'prefill tok/s'],
    r.latency.map((l) => [String(l.promptLength), fmt.ms(l.ttftMs.p50), fmt.ms(l.ttftMs.p90), fmt.ms(l.ttftMs.p99), fmt.ms(l.itlMs.p50), fmt.ms(l.itlMs.p90), fmt.perSecond(l.prefillTokensPerSecond, '')]),
    'bench-latency-table',
  );
}

export function throughputTable(r: BenchRecord): HTMLElement {
  return table(
    ['streams', 'TTFT p50', 'TTFT p90', 'ITL p50', 'ITL p90', 'ITL p99', 'tokens/s (all)'],
    r.throughput.map((t) => [String(t.concurrency), fmt.ms(t.ttftMs.p50), fmt.ms(t.ttftMs.p90), fmt.ms(t.itlMs.p50), fmt.ms(t.itlMs.p90), fmt.ms(t.itlMs.p99), fmt.perSecond(t.decodeTokensPerSecond, '')]),
    'bench-throughput-table',
  );
}

export function protocolText(r: BenchRecord): string {
  const p = r.protocol;
  return `prompts ${p.promptLengths.join('/')} × ${p.repetitions}, ${p.newTokens} new tokens, concurrency ${p.concurrency.join('/')}`;
}

/** Numeric columns are right-aligned: every column but the first. */
export function table(headers: string[], rows: (string | Node)[][], testid?: string, firstNumeric = false): HTMLElement {
  const numeric = (i: number) => i > 0 || firstNumeric;
  return h(
    'div',
    { class: 'table-wrap' },
    h(
      'table',
      { 'data-testid': testid },
      h('thead', {}, h('tr', {}, ...headers.map((t, i) => h('th', { class: numeric(i) ? 'num' : undefined }, t)))),
      h('tbody', {}, ...rows.map((row) => h('tr', {}, ...row.map((cell, i) => h('td', { class: numeric(i) ? 'num' : undefined }, cell))))),
    ),
  );
}
