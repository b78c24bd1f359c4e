// The generate view: a prompt, sampling settings, N parallel streams (N requests submitted at once, which the engine
// batches into shared GPU steps), the text as it streams, live TTFT / ITL / tokens per second of stream 0, and a chart
// of every token's latency for every stream.
import type { GenerateOptions, GenerationResult } from '../../src/index.ts';
import type { App } from '../app.ts';
import { axisTitle, ChartSlot, color, tint } from '../charts.ts';
import { $, byTestId, h, perFrame, setText } from '../dom.ts';
import * as fmt from '../format.ts';
import { initialSettings } from '../params.ts';

/** The sampling settings of one stream, as the form holds them. */
export interface StreamSettings {
  maxNewTokens: number;
  greedy: boolean;
  temperature: number;
  topK: number;
  topP: number;
  seed: number;
  repetitionPenalty: number;
}

/** The engine's options for `s` (greedy ignores the sampling fields). */
export function generateOptions(s: StreamSettings): GenerateOptions {
  const common = { maxNewTokens: s.maxNewTokens, repetitionPenalty: s.repetitionPenalty };
  return s.greedy ? { ...common, greedy: true } : { ...common, temperature: s.temperature, topK: s.topK, topP: s.topP, seed: s.seed };
}

interface StreamState {
  index: number;
  seed: number;
  /** Ends this stream. */
  controller: AbortController;
  /** Worker-measured time of each token since the request arrived, ms. */
  times: number[];
  gaps: number[];
  result?: GenerationResult;
  error?: string;
  card: HTMLElement;
  pre: HTMLElement;
  output: HTMLElement;
  stat: HTMLElement;
  /** Shows how the stream ended when that was not by reaching max new tokens. */
  badge: HTMLElement;
}

const MAX_STREAMS = 16;

export class GenerateView {
  private readonly prompt = $<HTMLTextAreaElement>('#prompt');
  private readonly maxNewTokens = $<HTMLInputElement>('#max-new-tokens');
  private readonly greedy = $<HTMLInputElement>('#greedy');
  private readonly temperature = $<HTMLInputElement>('#temperature');
  private readonly topK = $<HTMLInputElement>('#top-k');
  private readonly topP = $<HTMLInputElement>('#top-p');
  private readonly repetitionPenalty = $<HTMLInputElement>('#repetition-penalty');
  private readonly seed = $<HTMLInputElement>('#seed');
  private readonly streamsInput = $<HTMLInputElement>('#streams');
  private readonly generateButton = byTestId<HTMLButtonElement>('generate');
  private readonly stopButton = byTestId<HTMLButtonElement>('stop');
  private readonly grid = $('#stream-grid');
  private readonly chart = new ChartSlot<'line'>($<HTMLCanvasElement>('#latency-chart'));
  private streams: StreamState[] = [];
  private readonly render = perFrame(() => this.renderLive());

  constructor(private readonly app: App) {
    const p = app.params;
    // The settings `npm start` uses in the terminal (START_SETTINGS), unless the URL sets them: same seed, same text.
    const start = initialSettings(p);
    this.prompt.value = start.prompt;
    this.maxNewTokens.value = String(start.maxNewTokens);
    this.temperature.value = String(start.temperature);
    this.topK.value = String(start.topK);
    this.topP.value = String(start.topP);
    this.repetitionPenalty.value = String(start.repetitionPenalty);
    this.seed.value = String(start.seed);
    if (p.streams !== undefined) this.streamsInput.value = String(Math.max(1, Math.min(MAX_STREAMS, Math.round(p.streams))));
    this.greedy.checked = start.greedy;

    this.greedy.onchange = () => this.refreshControls();
    this.streamsInput.oninput = () => {
      setText($('#streams-value'), this.streamsInput.value);
      if (this.app.busy !== 'generating') this.layoutStreams(this.streamCount, false);
    };
    $('#reseed').onclick = () => (this.seed.value = String(Math.floor(Math.random() * 100_000)));
    this.generateButton.onclick = () => void this.generate();
    this.stopButton.onclick = () => void this.stop();
    this.prompt.onkeydown = (e) => {
      if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) {
        e.preventDefault();
        if (!this.generateButton.disabled) void this.generate();
      }
    };
    document.addEventListener('keydown', (e) => {
      if (e.key === 'Escape' && this.app.busy === 'generating') void this.stop();
    });
    $('#copy-link').onclick = () => void this.copyLink();
    app.onChange(() => this.refreshControls());

    setText($('#streams-value'), this.streamsInput.value);
    this.layoutStreams(this.streamCount, false);
    this.createChart();
    this.refreshControls();
  }

  get streamCount(): number {
    return Math.max(1, Math.min(MAX_STREAMS, Number(this.streamsInput.value) || 1));
  }

  /** Settings of stream 0 (stream i samples with seed + i). */
  settings(): StreamSettings {
    return {
      maxNewTokens: Math.round(Number(this.maxNewTokens.value)),
      greedy: this.greedy.checked,
      temperature: Number(this.temperature.value),
      topK: Math.round(Number(this.topK.value)),
      topP: Number(this.topP.value),
      seed: Math.round(Number(this.seed.value)) >>> 0,
      repetitionPenalty: Number(this.repetitionPenalty.value),
    };
  }

  async generate(): Promise<void> {
    const { app } = this;
    if (app.busy !== 'idle' || !app.model) return;
    const settings = this.settings();
    const prompt = this.prompt.value;
    const n = this.streamCount;
    app.clearError();
    app.setBusy('generating');
    app.setStatus('generating');
    this.resetMetrics();
    this.layoutStreams(n, true, prompt);
    this.resetChart();
    // All streams start in this task, so the engine admits them together and they share their first step.
    const runs = this.streams.map((stream) => {
      const generation = app.client.generate(prompt, { ...generateOptions({ ...settings, seed: (settings.seed + stream.index) >>> 0 }), signal: stream.controller.signal });
      const follow = async () => {
        for await (const token of generation) {
          // Follow the text as it grows, unless the reader scrolled up.
          const pre = stream.pre;
          const following = pre.scrollHeight - pre.scrollTop - pre.clientHeight < 24;
          stream.output.append(token.text);
          if (following) pre.scrollTop = pre.scrollHeight;
          if (stream.times.length > 0) stream.gaps.push(token.elapsedMs - stream.times[stream.times.length - 1]);
          stream.times.push(token.elapsedMs);
          this.render();
        }
        return generation.result;
      };
      return follow().then(
        (r) => {
          stream.result = r;
          // The engine's own figures replace the live ones measured from messages.
          stream.gaps = r.metrics.itlMs;
        },
        (e: unknown) => {
          stream.error = e instanceof Error ? e.message : String(e);
          if (stream.index === 0) throw e;
        },
      ).finally(() => {
        stream.pre.classList.remove('streaming');
        this.render();
      });
    });
    const [first] = await Promise.allSettled(runs);
    if (first.status === 'rejected') {
      app.setStatus({ error: first.reason });
      app.showError(first.reason);
    } else {
      app.setStatus('done');
    }
    app.setBusy('idle');
    this.renderLive();
  }

  async stop(): Promise<void> {
    for (const s of this.streams) s.controller.abort();
  }

  autostart(): void {
    void this.generate();
  }

  private refreshControls(): void {
    const busy = this.app.busy;
    this.generateButton.disabled = busy !== 'idle' || !this.app.model;
    this.stopButton.disabled = busy !== 'generating';
    for (const input of document.querySelectorAll<HTMLInputElement>('#view-generate .sampling input')) input.disabled = this.greedy.checked;
    this.streamsInput.disabled = busy === 'generating';
    if (this.app.model) this.maxNewTokens.max = String(this.app.model.shape.contextLength);
  }

  /** Builds one card per stream; stream 0's text element is the page's `output`. */
  private layoutStreams(n: number, running: boolean, prompt = ''): void {
    const settings = this.settings();
    this.grid.dataset.count = String(n);
    this.grid.classList.toggle('many', n > 2);
    this.streams = Array.from({ length: n }, (_, index) => {
      const output = h('span', { 'data-stream': index, 'data-testid': index === 0 ? 'output' : `output-${index}` });
      const pre = h('pre', { class: `stream-text${running ? ' streaming' : ''}` }, prompt ? h('span', { class: 'prompt-echo' }, prompt) : null, output);
      if (!running && index === 0) pre.append(h('span', { class: 'placeholder' }, 'The generated text appears here, token by token.'));
      const stat = h('span', { class: 'stat' }, running ? 'waiting…' : '');
      const badge = h('span', { class: 'badge warn', hidden: true });
      const seed = (settings.seed + index) >>> 0;
      const head = h(
        'div',
        { class: 'stream-head' },
        h('span', { class: 'swatch', style: `background:${color(index)}` }),
        h('span', { class: 'name' }, n === 1 ? 'Output' : `Stream ${index}`),
        h('span', { class: 'seed' }, settings.greedy ? 'greedy' : `seed ${seed}`),
        stat,
        badge,
      );
      const card = h('div', { class: `stream${index === 0 ? ' main' : ''}` }, head, pre);
      return { index, seed, controller: new AbortController(), times: [], gaps: [], card, pre, output, stat, badge };
    });
    this.grid.replaceChildren(...this.streams.map((s) => s.card));
  }

  private resetMetrics(): void {
    for (const id of ['ttft', 'itl', 'itl-current', 'itl-p90', 'tokens-per-second']) setText(byTestId(id), '–');
    setText(byTestId('token-count'), '0');
    setText(byTestId('total-tokens-per-second'), '–');
    setText(byTestId('finish-reason'), 'running');
    setText($('#ttft-sub'), 'first token');
  }

  private renderLive(): void {
    const [main] = this.streams;
    if (!main) return;
    const gaps = main.gaps;
    const ttft = main.result?.metrics.ttftMs ?? main.times[0];
    setText(byTestId('ttft'), fmt.ms(ttft));
    if (main.result) setText($('#ttft-sub'), `${main.result.metrics.promptTokens}-token prompt`);
    setText(byTestId('itl'), fmt.ms(fmt.percentile(gaps, 50)));
    setText(byTestId('itl-current'), fmt.ms(gaps[gaps.length - 1]));
    setText(byTestId('itl-p90'), fmt.ms(fmt.percentile(gaps, 90)));
    setText(byTestId('tokens-per-second'), fmt.perSecond(decodeRate(main)));
    setText(byTestId('token-count'), String(main.result?.ids.length ?? main.times.length));
    setText(byTestId('finish-reason'), main.result ? finishText(main.result.finishReason) : main.error ? 'failed' : 'running');
    const tokens = this.streams.reduce((n, s) => n + s.times.length, 0);
    const elapsed = Math.max(...this.streams.map((s) => s.times[s.times.length - 1] ?? 0));
    setText(byTestId('total-tokens-per-second'), this.streams.length > 1 ? `${this.streams.length} streams: ${fmt.perSecond(elapsed > 0 ? (tokens / elapsed) * 1000 : NaN)}` : elapsed > 0 ? `${fmt.seconds(elapsed)} in all` : '–');
    for (const s of this.streams) {
      if (s.error) {
        setText(s.stat, 'failed');
        s.stat.title = s.error;
        // One stream: the banner says it; several: each card says why it failed.
        if (this.streams.length > 1 && !s.pre.querySelector('.stream-error')) s.pre.append(h('span', { class: 'stream-error' }, `\n${s.error}`));
        continue;
      }
      const parts = [`${s.result?.ids.length ?? s.times.length} tok`];
      const rate = decodeRate(s);
      if (Number.isFinite(rate)) parts.push(fmt.perSecond(rate));
      setText(s.stat, parts.join(' · '));
      s.stat.title = s.result ? `ended: ${finishText(s.result.finishReason)}` : '';
      if (s.result && s.result.finishReason !== 'length' && !s.badge.textContent) {
        s.badge.textContent = finishText(s.result.finishReason);
        s.badge.hidden = false;
      }
    }
    this.updateChart();
  }

  private createChart(): void {
    this.chart.render({
      type: 'line',
      data: { datasets: [] },
      options: {
        animation: false,
        parsing: false,
        normalized: true,
        interaction: { mode: 'nearest', intersect: false },
        scales: {
          x: { type: 'linear', min: 1, title: axisTitle('token'), ticks: { precision: 0 } },
          y: { type: 'linear', beginAtZero: true, title: axisTitle('ms since the previous token') },
        },
        plugins: {
          legend: { display: false, position: 'bottom', labels: { boxWidth: 10, boxHeight: 10, usePointStyle: true, pointStyle: 'rectRounded' } },
          tooltip: { callbacks: { label: (item) => `${item.dataset.label}: ${fmt.ms(item.parsed.y ?? NaN)}` } },
        },
      },
    });
    const box = this.chart.canvas.parentElement!;
    box.append(h('div', { class: 'chart-empty', id: 'latency-empty' }, 'Press Generate to see how long each token takes.'));
  }

  private resetChart(): void {
    const chart = this.chart.chart!;
    const n = this.streams.length;
    // Streams batched together share their decode steps, so their lines coincide: each stream draws its own dash of a
    // common period, so a shared line shows every stream's color in turn and a stream that differs stands out.
    const dash = 6;
    chart.data.datasets = this.streams.map((s) => ({
      label: n === 1 ? 'inter-token latency' : `stream ${s.index}`,
      data: [] as { x: number; y: number }[],
      borderColor: color(s.index),
      backgroundColor: n === 1 ? tint(color(0), 0.12) : color(s.index),
      fill: n === 1,
      borderWidth: n === 1 ? 2 : 2.5,
      borderDash: n === 1 ? [] : [dash, dash * (n - 1)],
      borderDashOffset: -dash * s.index,
      pointRadius: n === 1 ? 2 : 0,
      tension: 0.2,
    }));
    chart.options.plugins!.legend!.display = n > 1 && n <= 8;
    setText($('#latency-empty'), 'Waiting for the first tokens…');
    this.chart.update();
  }

  private updateChart(): void {
    const chart = this.chart.chart;
    if (!chart || chart.data.datasets.length !== this.streams.length) return;
    let longest = 1;
    this.streams.forEach((s, i) => {
      chart.data.datasets[i].data = s.gaps.map((y, k) => ({ x: k + 1, y }));
      longest = Math.max(longest, s.gaps.length);
    });
    chart.options.scales!.x!.max = Math.max(longest, 2);
    const empty = $('#latency-empty');
    empty.hidden = this.streams.some((st) => st.gaps.length > 0);
    const tokens = this.streams.reduce((n, st) => n + st.times.length, 0);
    setText(empty, this.app.busy === 'generating' ? 'Waiting for the first tokens…' : tokens === 0 ? 'No tokens were generated.' : 'One token: no gap between tokens to show.');
    this.chart.update();
  }

  private async copyLink(): Promise<void> {
    const s = this.settings();
    const url = new URL(location.href);
    const set = (k: string, v: string | undefined) => (v === undefined ? url.searchParams.delete(k) : url.searchParams.set(k, v));
    set('prompt', this.prompt.value);
    set('maxNewTokens', String(s.maxNewTokens));
    set('greedy', s.greedy ? '1' : undefined);
    for (const [k, v] of [['temperature', s.temperature], ['topK', s.topK], ['topP', s.topP], ['seed', s.seed]] as const) set(k, s.greedy ? undefined : String(v));
    set('repetitionPenalty', s.repetitionPenalty === 1 ? undefined : String(s.repetitionPenalty));
    set('streams', this.streamCount > 1 ? String(this.streamCount) : undefined);
    set('autostart', undefined);
    try {
      await navigator.clipboard.writeText(url.href);
      this.app.toast('Link copied');
    } catch {
      history.replaceState(null, '', url);
      this.app.toast('The link is in the address bar');
    }
  }
}

/** Tokens per second after the first token (the decode rate a reader sees). */
function decodeRate(s: StreamState): number {
  const n = s.times.length;
  if (n < 2) return NaN;
  return ((n - 1) / (s.times[n - 1] - s.times[0])) * 1000;
}

function finishText(reason: GenerationResult['finishReason']): string {
  return { length: 'max tokens reached', eos: 'end of text', stop: 'stop string', abort: 'stopped' }[reason];
}
