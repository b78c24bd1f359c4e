// The GPU panel: which adapter the engine got (and whether it is a software one), its features and the limits that
// decide which models fit; and the GPU memory the model holds: weights, the KV pool, KV blocks in use right now.
import type { App } from '../app.ts';
import { $, fill, h } from '../dom.ts';
import * as fmt from '../format.ts';
import type { GpuReport, WorkerStats as Stats } from '../../src/index.ts';

const LIMIT_NAMES: Record<string, string> = {
  maxStorageBufferBindingSize: 'storage binding',
  maxBufferSize: 'buffer',
  maxComputeWorkgroupStorageSize: 'workgroup memory',
  maxComputeInvocationsPerWorkgroup: 'invocations / workgroup',
  maxStorageBuffersPerShaderStage: 'storage buffers / stage',
};

export class GpuPanel {
  private stats: Stats | undefined;

  constructor(private readonly app: App) {
    app.client.on('stats', (stats) => {
      this.stats = stats;
      this.renderMemory();
    });
    app.onChange(() => this.renderMemory());
  }

  renderAdapter(gpu: GpuReport): void {
    const a = gpu.adapter;
    const name = a.device || a.description || [a.vendor, a.architecture].filter(Boolean).join(' ') || 'unknown adapter';
    const facts = ([
      ['vendor', a.vendor],
      ['architecture', a.architecture],
      ['device', a.device],
      ['description', a.description],
      ['feature level', a.featureLevel],
    ] as [string, string][]).filter(([, v]) => v);
    const limits = Object.entries(gpu.limits).map(([k, v]): [string, string] => [LIMIT_NAMES[k] ?? k, /Size$/.test(k) ? fmt.binaryBytes(v) : fmt.count(v)]);
    fill(
      $('#adapter'),
      h('div', { class: 'row' }, h('span', { class: 'adapter-name', 'data-testid': 'adapter-name' }, name), h('span', { class: `badge ${a.software ? 'warn' : 'ok'}`, 'data-testid': 'adapter-kind' }, a.software ? 'software' : 'hardware')),
      a.software ? h('p', { class: 'muted small' }, 'A software adapter runs on the CPU: correct, but far slower than a GPU.') : null,
      dl(facts),
      h('h3', {}, 'Features'),
      gpu.features.length ? h('div', { class: 'chips-inline' }, ...gpu.features.map((f) => h('span', { class: 'chip' }, f))) : h('p', { class: 'muted small' }, 'none beyond core WebGPU'),
      h('h3', {}, 'Limits (max)'),
      dl(limits),
    );
  }

  renderMemory(): void {
    const model = this.app.model;
    const element = $('#memory');
    if (!model) {
      element.replaceChildren(h('p', { class: 'muted' }, this.app.busy === 'loading' ? 'Loading…' : 'No model loaded.'));
      return;
    }
    const { info } = model;
    const inUse = this.stats?.kvBlocksInUse ?? 0;
    const summary = this.stats?.summary;
    const total = info.kv.totalBlocks;
    const gpuMs = summary?.gpuMsPerStep;
    const facts: [string, string][] = [
      ['weights', fmt.bytes(info.weightBytes)],
      ['KV pool', `${fmt.bytes(info.kvBytes)} · ${fmt.count(total)} blocks of ${info.kv.blockSize}`],
      ['total', fmt.bytes(info.weightBytes + info.kvBytes)],
    ];
    const engine: [string, string][] = summary
      ? [
          ['steps', `${fmt.count(summary.steps.prefill)} prefill · ${fmt.count(summary.steps.decode)} decode`],
          ['peak KV blocks', `${fmt.count(summary.kv.peakBlocksUsed)} of ${fmt.count(total)}`],
          ['preemptions', fmt.count(summary.preemptions)],
          ...(gpuMs
            ? ([
                ['GPU time / prefill step', withP50(gpuMs.prefill.p50)],
                ['GPU time / decode step', withP50(gpuMs.decode.p50)],
              ] as [string, string][])
            : []),
        ]
      : [];
    fill(
      element,
      dl(facts),
      h(
        'div',
        { class: 'kv-live', 'data-testid': 'kv-in-use', title: 'KV-cache blocks held by running requests (each holds the keys and values of 16 tokens)' },
        h('div', { class: 'progress-foot' }, h('span', {}, 'KV blocks in use'), h('span', {}, `${fmt.count(inUse)} / ${fmt.count(total)}`)),
        h('div', { class: 'meter' }, h('div', { style: `width: ${((inUse / Math.max(1, total)) * 100).toFixed(1)}%` })),
      ),
      engine.length ? h('h3', {}, 'Engine so far') : null,
      engine.length ? dl(engine, 'gpu-ms') : null,
    );
  }
}

function dl(rows: [string, string][], testid?: string): HTMLDListElement {
  return h('dl', { class: 'facts', 'data-testid': testid }, ...rows.flatMap(([k, v]) => [h('dt', {}, k), h('dd', { title: v }, v)]));
}

const withP50 = (ms: number) => (Number.isFinite(ms) ? `${fmt.ms(ms)} p50` : '–');
