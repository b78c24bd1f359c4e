// The demo page: loads the embedded model (or ?model=<base URL>) and streams a generation with live TTFT and ITL.
// URL parameters: model, prompt, maxNewTokens, greedy=1, temperature, seed, autostart=1.
import { Engine, GptWebGpuError, requestGpuContext, urlModelFiles } from '../src/index.ts';

const $ = <T extends HTMLElement>(selector: string) => document.querySelector<T>(selector)!;
const params = new URLSearchParams(location.search);
const status = $('[data-testid=status]');
const output = $('[data-testid=output]');
const prompt = $<HTMLTextAreaElement>('[data-testid=prompt]');
const generateButton = $<HTMLButtonElement>('[data-testid=generate]');
const stopButton = $<HTMLButtonElement>('[data-testid=stop]');
const maxNewTokens = $<HTMLInputElement>('#max-new-tokens');
const greedy = $<HTMLInputElement>('#greedy');

if (params.has('prompt')) prompt.value = params.get('prompt')!;
if (params.has('maxNewTokens')) maxNewTokens.value = params.get('maxNewTokens')!;
greedy.checked = params.get('greedy') === '1';

const setStatus = (s: string) => (status.textContent = s);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

async function main(): Promise<void> {
  if (!('gpu' in navigator)) throw new GptWebGpuError('this browser has no WebGPU; use a recent Chrome, Edge or Safari, or enable WebGPU');
  const gpu = await requestGpuContext(navigator.gpu);
  const modelUrl = params.get('model') ?? new URL('./gpt2-shakespeare/', location.href).href;
  $('#model').textContent = modelUrl;
  const engine = await Engine.load(gpu, urlModelFiles(modelUrl));
  const a = engine.info.adapter;
  $('#adapter').textContent = `adapter: ${[a.vendor, a.architecture, a.device].filter(Boolean).join(' ') || a.description}${a.software ? ' (software)' : ''}`;
  // For tests and the console: the engine behind the page.
  (window as unknown as { gptWebgpu: { engine: Engine } }).gptWebgpu = { engine };
  setStatus('ready');
  generateButton.disabled = false;

  let controller: AbortController | undefined;
  stopButton.onclick = () => controller?.abort();
  generateButton.onclick = async () => {
    controller = new AbortController();
    generateButton.disabled = true;
    stopButton.disabled = false;
    output.textContent = '';
    setStatus('generating');
    try {
      const temperature = params.get('temperature');
      const seed = params.get('seed');
      const stream = engine.generate(prompt.value, {
        maxNewTokens: Number(maxNewTokens.value),
        signal: controller.signal,
        ...(greedy.checked || temperature === null ? { greedy: true } : { temperature: Number(temperature), seed: seed === null ? undefined : Number(seed) }),
      });
      const gaps: number[] = [];
      let last = performance.now();
      let first = true;
      for await (const chunk of stream) {
        output.textContent += chunk.text;
        const now = performance.now();
        if (!first) gaps.push(now - last);
        first = false;
        last = now;
        $('[data-testid=itl]').textContent = gaps.length ? `${median(gaps).toFixed(1)} ms (p50)` : '–';
      }
      const result = await stream.result;
      $('[data-testid=ttft]').textContent = `${result.metrics.ttftMs.toFixed(1)} ms`;
      setStatus('done');
    } catch (e) {
      setStatus(`error: ${(e as Error).message}`);
    } finally {
      generateButton.disabled = false;
      stopButton.disabled = true;
    }
  };
  if (params.get('autostart') === '1') generateButton.click();
}

main().catch((e) => setStatus(`error: ${(e as Error).message}`));
