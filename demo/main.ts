// The demo app: GPT-2 / GPT-NeoX on WebGPU, with the engine in a Web Worker (worker.ts). Three views: generate
// (streams, live latency, parallel streams), benchmark (the CLI's protocol, in the browser) and compare (records side
// by side). URL parameters are listed in params.ts; data-testid attributes are what the end-to-end tests read.
import { App } from './app.ts';
import { $, droppedFiles, setText } from './dom.ts';
import { readParams } from './params.ts';
import { BenchView } from './views/bench.ts';
import { CompareView } from './views/compare.ts';
import { GenerateView } from './views/generate.ts';
import { GpuPanel } from './views/gpu.ts';
import { ModelPanel } from './views/model.ts';
import { registerOffline } from './offline.ts';

const app = new App(readParams(location.search));
const models = new ModelPanel(app);
const gpuPanel = new GpuPanel(app);
const generate = new GenerateView(app);
const bench = new BenchView(app);
const compare = new CompareView(app);
bench.onCompare = (record) => {
  compare.add(record, 'this session');
  compare.render();
  app.setView('compare');
};
app.setView(app.params.view);

// For the console and for tests: the worker client (e.g. `await gptWebgpu.stats()`).
Object.assign(window, { gptWebgpu: { app, stats: () => app.client.stats() } });

setupDropOverlay();
registerOffline();
void start();

async function start(): Promise<void> {
  app.setStatus('loading');
  // Checked on the page too, so a browser without WebGPU gets the explanation without starting a worker.
  if (!('gpu' in navigator) || !navigator.gpu) {
    const error = Object.assign(new Error(isSecureContext ? 'this browser has no WebGPU (navigator.gpu is missing)' : 'this page is not a secure context, so the browser hides WebGPU'), { name: 'WebGpuUnavailableError' });
    fail(error);
    setText($('#adapter'), 'No WebGPU adapter.');
    return;
  }
  try {
    app.gpu = await app.client.init();
    gpuPanel.renderAdapter(app.gpu);
    bench.adapterKnown(app.gpu.adapter.software);
  } catch (e) {
    fail(e);
    $('#adapter').replaceChildren('No WebGPU adapter.');
    return;
  }
  const loaded = await models.loadInitial();
  if (app.params.autostart && loaded) {
    if (app.view === 'bench') void bench.run();
    else if (app.view === 'generate') generate.autostart();
  }
}

function fail(error: unknown): void {
  app.setStatus({ error });
  app.showError(error);
  app.setBusy('idle');
}

/** Files dropped anywhere: benchmark records on the compare view, a model everywhere else. */
function setupDropOverlay(): void {
  const overlay = $('#drop-overlay');
  let depth = 0;
  const hasFiles = (e: DragEvent) => [...(e.dataTransfer?.types ?? [])].includes('Files');
  window.addEventListener('dragenter', (e) => {
    if (!hasFiles(e)) return;
    depth++;
    setText($('#drop-overlay-text'), app.view === 'compare' ? 'Drop benchmark records (JSON) to compare them' : 'Drop a model folder or its files to load it');
    overlay.hidden = false;
  });
  window.addEventListener('dragleave', () => {
    depth = Math.max(0, depth - 1);
    if (depth === 0) overlay.hidden = true;
  });
  window.addEventListener('dragover', (e) => {
    if (hasFiles(e)) e.preventDefault();
  });
  window.addEventListener('drop', async (e) => {
    depth = 0;
    overlay.hidden = true;
    if (!e.dataTransfer || !hasFiles(e)) return;
    e.preventDefault();
    if (app.view === 'compare') await compare.addFiles([...e.dataTransfer.files]);
    else if (app.busy === 'idle') await models.loadFiles(await droppedFiles(e.dataTransfer));
    else app.toast('Wait until the engine is idle to load another model');
  });
}
