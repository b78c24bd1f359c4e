// URL parameters: every setting a link or a test can fix before the page starts.
//   model              Hugging Face id ("openai-community/gpt2") or base URL; default: the embedded demo model
//   hub                Hub endpoint instead of https://huggingface.co/ (mirrors, tests)
//   view               generate | bench | compare
//   prompt, maxNewTokens, greedy=1, temperature, topK, topP, repetitionPenalty, seed, streams (1–16)
//   protocol           standard | quick (benchmark view)
//   label              label of the benchmark record
//   autostart=1        generate (generate view) or run the benchmark (bench view) once the model is loaded
import { START_SETTINGS, type StartSettings } from '../src/sampling/startSettings.ts';

export type View = 'generate' | 'bench' | 'compare';
export const VIEWS: readonly View[] = ['generate', 'bench', 'compare'];

export interface PageParams {
  model?: string;
  hub?: string;
  view: View;
  prompt?: string;
  maxNewTokens?: number;
  greedy: boolean;
  temperature?: number;
  topK?: number;
  topP?: number;
  repetitionPenalty?: number;
  seed?: number;
  streams?: number;
  protocol?: 'standard' | 'quick';
  label?: string;
  autostart: boolean;
}

export function readParams(search: string): PageParams {
  const p = new URLSearchParams(search);
  const text = (name: string) => p.get(name) ?? undefined;
  const number = (name: string) => {
    const raw = p.get(name);
    if (raw === null || raw.trim() === '') return undefined;
    const value = Number(raw);
    return Number.isFinite(value) ? value : undefined;
  };
  const view = p.get('view');
  const protocol = p.get('protocol');
  return {
    model: text('model'),
    hub: text('hub'),
    view: VIEWS.includes(view as View) ? (view as View) : 'generate',
    prompt: text('prompt'),
    maxNewTokens: number('maxNewTokens'),
    greedy: p.get('greedy') === '1' || p.get('greedy') === 'true',
    temperature: number('temperature'),
    topK: number('topK'),
    topP: number('topP'),
    repetitionPenalty: number('repetitionPenalty'),
    seed: number('seed'),
    streams: number('streams'),
    protocol: protocol === 'quick' || protocol === 'standard' ? protocol : undefined,
    label: text('label'),
    autostart: p.get('autostart') === '1' || p.get('autostart') === 'true',
  };
}

/** What the generate form starts with: the URL's values over START_SETTINGS (the settings `npm start` uses). */
export function initialSettings(p: PageParams): StartSettings & { greedy: boolean } {
  const s = START_SETTINGS;
  return {
    prompt: p.prompt ?? s.prompt,
    maxNewTokens: p.maxNewTokens ?? s.maxNewTokens,
    temperature: p.temperature ?? s.temperature,
    topK: p.topK ?? s.topK,
    topP: p.topP ?? s.topP,
    seed: p.seed ?? s.seed,
    repetitionPenalty: p.repetitionPenalty ?? s.repetitionPenalty,
    greedy: p.greedy,
  };
}
