// One generate() call as the engine sees it: its sampling settings, its stream, the text it has produced so far with
// stop-string matching, and its timing. The scheduler's Sequence holds the tokens and KV bookkeeping; this holds
// everything about the caller.
import type { Tokenizer } from '../tokenizer/index.ts';
import type { StreamDecoder } from '../tokenizer/streamDecoder.ts';
import type { RowSampling } from '../model/outputHead.ts';
import type { SamplingPlan } from '../sampling/sampler.ts';
import type { FinishReason, GenerationResult, GenerationStream } from './generationStream.ts';
import type { Sequence } from './scheduler.ts';

export interface RequestSettings {
  sampling: SamplingPlan;
  maxNewTokens: number;
  repetitionPenalty: number;
  stopAtEos: boolean;
  eosTokenId?: number;
  /** Generation ends when the text contains one of these; the text returned stops before it. */
  stop: readonly string[];
}

export class ActiveRequest {
  private readonly decoder: StreamDecoder | undefined;
  /** Distinct ids seen (prompt and output), for the repetition penalty. */
  private readonly seen: Set<number>;
  /** Decoded text so far, and how much of it the caller has been given (the rest may start a stop string). */
  private text = '';
  private emitted = 0;
  readonly arrival = performance.now();
  private admittedAt: number | undefined;
  private firstTokenAt: number | undefined;
  private lastTokenAt = 0;
  private readonly itlMs: number[] = [];
  finished = false;

  constructor(
    readonly seq: Sequence,
    readonly settings: RequestSettings,
    readonly stream: GenerationStream,
    private readonly tokenizer: Tokenizer | undefined,
  ) {
    this.decoder = tokenizer?.createStreamDecoder();
    this.seen = new Set(seq.prompt);
  }

  /**
   * How the output head treats this request's row: greedy, or drawn on the GPU under (seed, index of the next token in
   * the output), so a seed replays exactly whatever else shares the step.
   */
  rowSampling(): RowSampling {
    const s = this.settings;
    const p = s.sampling;
    return {
      ...(p.greedy ? { temperature: 0, topK: 0, topP: 1, seed: 0 } : p),
      tokenIndex: this.seq.output.length,
      repetitionPenalty: s.repetitionPenalty,
      history: s.repetitionPenalty === 1 ? [] : [...this.seen],
    };
  }

  markAdmitted(): void {
    this.admittedAt ??= performance.now();
  }

  /**
   * Hands a new token (already appended to the sequence) to the caller. Returns why the request ends, if it does:
   * the end-of-sequence token, a stop string, or maxNewTokens.
   */
  deliver(token: number): FinishReason | undefined {
    const now = performance.now();
    if (this.firstTokenAt === undefined) this.firstTokenAt = now;
    else this.itlMs.push(now - this.lastTokenAt);
    this.lastTokenAt = now;
    this.seen.add(token);

    const eos = this.settings.stopAtEos && token === this.settings.eosTokenId;
    if (this.decoder && !eos && this.hasText(token)) this.text += this.decoder.push(token);
    const index = this.seq.output.length - 1;
    let reason: FinishReason | undefined = eos ? 'eos' : undefined;
    const stopAt = this.findStop();
    if (stopAt !== undefined) {
      this.text = this.text.slice(0, stopAt);
      reason = 'stop';
    } else if (!reason && this.seq.output.length >= this.settings.maxNewTokens) {
      reason = 'length';
    }
    if (reason && this.decoder && stopAt === undefined) this.text += this.decoder.flush();
    // Hold back a tail that could still become a stop string; release everything when the request ends.
    const safe = reason ? this.text.length : this.text.length - this.stopPrefixLength();
    const piece = this.text.slice(this.emitted, Math.max(this.emitted, safe));
    this.emitted = Math.max(this.emitted, safe);
    this.stream.push({ tokenId: token, text: piece, index });
    return reason;
  }

  /** Ends the request and returns its result; the result's text is what the caller was given. */
  end(reason: FinishReason): GenerationResult {
    const now = performance.now();
    const generated = this.seq.output.length;
    const ttft = this.firstTokenAt === undefined ? NaN : this.firstTokenAt - this.arrival;
    const e2e = now - this.arrival;
    const result: GenerationResult = {
      ids: [...this.seq.output],
      text: this.text.slice(0, this.emitted),
      finishReason: reason,
      metrics: {
        promptTokens: this.seq.prompt.length,
        generatedTokens: generated,
        cachedPromptTokens: this.seq.cachedTokens,
        preemptions: this.seq.preemptions,
        queueMs: (this.admittedAt ?? now) - this.arrival,
        ttftMs: ttft,
        itlMs: [...this.itlMs],
        tpotMs: generated > 1 ? (this.lastTokenAt - this.firstTokenAt!) / (generated - 1) : NaN,
        e2eMs: e2e,
      },
    };
    if (!this.finished) this.stream.end(result);
    this.finished = true;
    return result;
  }

  fail(error: unknown): void {
    if (this.finished) return;
    this.finished = true;
    this.stream.fail(error);
  }

  /** Special tokens and ids past the tokenizer's vocabulary (padded embeddings, e.g. Pythia's) produce no text. */
  private hasText(id: number): boolean {
    const t = this.tokenizer;
    return t !== undefined && !t.isSpecialToken(id) && t.idToToken(id) !== undefined;
  }

  /** Index where the earliest stop string starts in the text, looking only where a new one can have appeared. */
  private findStop(): number | undefined {
    let best: number | undefined;
    for (const stop of this.settings.stop) {
      const at = this.text.indexOf(stop, Math.max(0, this.emitted - stop.length));
      if (at >= 0 && (best === undefined || at < best)) best = at;
    }
    return best;
  }

  /** Length of the longest tail of the text that is the beginning of some stop string. */
  private stopPrefixLength(): number {
    let longest = 0;
    for (const stop of this.settings.stop) {
      for (let n = Math.min(stop.length - 1, this.text.length - this.emitted); n > longest; n--) {
        if (this.text.endsWith(stop.slice(0, n))) {
          longest = n;
          break;
        }
      }
    }
    return longest;
  }
}
