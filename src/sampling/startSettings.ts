// The one set of default sampling settings that a person meets first: `npm start` generates with them in the terminal
// (package.json's "start" line spells them as CLI flags) and the browser app fills its form with them, so the same seed
// gives the same text in both. test/unit/startSettings.test.ts keeps package.json and this object equal.

export interface StartSettings {
  prompt: string;
  maxNewTokens: number;
  temperature: number;
  topK: number;
  /** 1: no nucleus filtering (the CLI's default when --top-p is not given). */
  topP: number;
  seed: number;
  /** 1: none (the CLI's default). */
  repetitionPenalty: number;
}

export const START_SETTINGS: Readonly<StartSettings> = Object.freeze({
  prompt: 'ROMEO:',
  maxNewTokens: 60,
  temperature: 0.8,
  topK: 40,
  topP: 1,
  seed: 7,
  repetitionPenalty: 1,
});
