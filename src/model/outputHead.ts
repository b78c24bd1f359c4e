// The end of a step: the rows whose next token is wanted go through ln_f and the LM head, then, per row, the repetition
// penalty, the greedy choice (argmax, which also flags rows whose logits hold NaN / ±Inf) and, for sampled rows, the
// draw (temperature, top-k, top-p, a counter-based generator: shaders/sample.wgsl, which computes the softmax weights
// from the logits and argmax's row max as it reads them, so no probabilities pass or buffer), all on the GPU. Only
// token ids (with their flags) come back for `sample`; raw logits for `logits` requests. Each row is processed on its
// own, so a row's result never depends on the others.
import type { ModelConfig } from '../io/config.ts';
import type { ModelWeights } from '../io/checkpoint.ts';
import type { GpuContext } from '../gpu/context.ts';
import { COPY_DST, createStorageBuffer, MAP_READ } from '../gpu/buffers.ts';
import type { KernelCall } from '../gpu/kernel.ts';
import { layerNorm } from '../kernels/layerNorm.ts';
import { LinearCall } from '../kernels/matmul.ts';
import { argmax, decodeArgmaxIds } from '../kernels/argmax.ts';
import { repetitionPenalty } from '../kernels/repetitionPenalty.ts';
import { packSampleSettings, sample, SAMPLE_SETTINGS_WORDS } from '../kernels/sample.ts';
import type { ProfileSite } from './transformer.ts';

/** How one row's next token is chosen. */
export interface RowSampling {
  /** 0: greedy (argmax); otherwise the softmax temperature. */
  temperature: number;
  /** For sampled rows: top-k (0: no limit), top-p in (0, 1], the request's seed, and the index of the token in the
   * request's output (0: the first generated token), which with the seed keys the draw. */
  topK: number;
  topP: number;
  seed: number;
  tokenIndex: number;
  /** 1: none. */
  repetitionPenalty: number;
  /** Distinct token ids the penalty applies to (the prompt and what was generated). */
  history: readonly number[];
}

export type HeadOutput = { kind: 'logits' } | { kind: 'sample'; rows: readonly RowSampling[] };

export interface HeadResult {
  /** (R, V) raw logits, for `logits`. */
  logits?: Float32Array;
  /** (R) for `sample`: each row's token, the argmax after the penalty (greedy rows) or the draw (sampled rows). */
  ids?: Uint32Array;
  /** (R) for `sample`: 1 where the row's logits held a NaN or ±Inf (its id is then no answer). */
  nonFinite?: Uint8Array;
  /** (R) for `sample`: 1 where a sampled row's probabilities held a NaN or ±Inf (e.g. a temperature whose inverse
   * overflows f32), with finite logits; its id is then no answer. */
  nonFiniteProbs?: Uint8Array;
}

export class OutputHead {
  private readonly rows: GPUBuffer; // (R, C) residual rows gathered from the step
  private readonly rowsNorm: GPUBuffer; // (R, C)
  private readonly logits: GPUBuffer; // (R, V)
  private readonly ids: GPUBuffer; // (R) u32: argmax id | NON_FINITE_FLAG (bit 31) when the row held NaN / ±Inf
  private readonly drawn: GPUBuffer; // (R) u32: sampled id | NON_FINITE_FLAG when the probabilities held NaN / ±Inf
  private readonly sampleSettings: GPUBuffer; // (R, SAMPLE_SETTINGS_WORDS) u32: sampled, top-k, top-p, seed, index
  private readonly invTemperature: GPUBuffer; // (R) f32
  private readonly penalty: GPUBuffer; // (R) f32
  private readonly historyOffsets: GPUBuffer; // (R + 1) u32
  private readonly history: GPUBuffer; // (R · contextLength) u32
  readonly staging: GPUBuffer; // MAP_READ: argmax ids (R u32), then drawn ids (R u32), or (R, V) f32 logits; then 16 bytes for the step's timestamps (transformer.ts)
  private readonly finalNorm: KernelCall;
  private readonly lmHead: LinearCall;
  private readonly penaltyCall: KernelCall;
  private readonly argmaxCall: KernelCall;
  private readonly sampleCall: KernelCall;
  private readonly owned: { destroy(): void }[] = [];

  constructor(
    private readonly gpu: GpuContext,
    private readonly config: ModelConfig,
    weights: ModelWeights,
    /** R: most rows in one pass. */
    readonly maxRows: number,
  ) {
    const { hiddenSize: C, vocabSize: V } = config;
    const R = maxRows;
    const own = <Resource extends { destroy(): void }>(resource: Resource): Resource => {
      this.owned.push(resource);
      return resource;
    };
    const buffer = (label: string, bytes: number) => own(createStorageBuffer(gpu, label, bytes));
    try {
      this.rows = buffer('head rows', R * C * 4);
      this.rowsNorm = buffer('head rows normalized', R * C * 4);
      this.logits = buffer('logits', R * V * 4);
      this.ids = buffer('argmax ids', R * 4);
      this.drawn = buffer('drawn ids', R * 4);
      this.sampleSettings = buffer('sampling settings', R * SAMPLE_SETTINGS_WORDS * 4);
      this.invTemperature = buffer('inverse temperatures', R * 4);
      this.penalty = buffer('repetition penalties', R * 4);
      this.historyOffsets = buffer('history offsets', (R + 1) * 4);
      this.history = buffer('history ids', R * config.contextLength * 4);
      this.staging = own(gpu.device.createBuffer({ label: 'head read-back', size: Math.max(2 * R * 4, R * V * 4) + 24 /* ≤ 8 bytes of alignment + 16 of timestamps */, usage: MAP_READ | COPY_DST }));
      const eps = config.layerNormEps;
      this.finalNorm = own(layerNorm(gpu, 'ln_f', { x: this.rows, gamma: weights.finalNorm.weight, beta: weights.finalNorm.bias, y: this.rowsNorm, channels: C, eps }));
      this.lmHead = own(new LinearCall(gpu, 'lm head', { x: this.rowsNorm, w: weights.lmHead, y: this.logits, inFeatures: C, outFeatures: V, weightF16: weights.matrixFormat === 'f16' }));
      this.penaltyCall = own(repetitionPenalty(gpu, 'repetition penalty', { logits: this.logits, history: this.history, offsets: this.historyOffsets, penalty: this.penalty, vocab: V }));
      this.argmaxCall = own(argmax(gpu, 'argmax', { logits: this.logits, ids: this.ids, vocab: V }));
      // after argmax, on the same penalized logits: argmax's id is the row max the weights exp((l - max) · 1/τ) need
      this.sampleCall = own(sample(gpu, 'sample', { fromLogits: { logits: this.logits, argmaxIds: this.ids, invTemperature: this.invTemperature }, settings: this.sampleSettings, drawn: this.drawn, vocab: V }));
    } catch (e) {
      this.destroy();
      throw e;
    }
  }

  /**
   * Encodes the head for `rows` (indices into x, at most maxRows) and the copy of what must come back into `staging`.
   * Returns how to read the staging buffer once the work is done.
   */
  encode(
    encoder: GPUCommandEncoder,
    x: GPUBuffer,
    rows: readonly number[],
    output: HeadOutput,
    timestampWrites?: GPUComputePassTimestampWrites,
  ): { bytes: number; read: (data: ArrayBuffer) => HeadResult } {
    const C = this.config.hiddenSize;
    const V = this.config.vocabSize;
    const R = rows.length;
    rows.forEach((row, i) => encoder.copyBufferToBuffer(x, row * C * 4, this.rows, i * C * 4, C * 4));
    const sampling = output.kind === 'sample' ? output.rows : [];
    const penalized = sampling.some((r) => r.repetitionPenalty !== 1);
    const sampled = sampling.some((r) => r.temperature > 0);
    if (penalized) this.uploadPenalties(sampling);
    if (sampled) this.uploadSampling(sampling);

    const pass = encoder.beginComputePass({ label: 'head', timestampWrites });
    this.finalNorm.encode(pass, R);
    this.lmHead.encode(pass, R);
    if (penalized) this.penaltyCall.encode(pass, R);
    if (output.kind === 'sample') this.argmaxCall.encode(pass, R);
    if (sampled) this.sampleCall.encode(pass, R); // reads argmax's ids: encoded after it
    pass.end();

    if (output.kind === 'logits') {
      encoder.copyBufferToBuffer(this.logits, 0, this.staging, 0, R * V * 4);
      return { bytes: R * V * 4, read: (data) => ({ logits: new Float32Array(data, 0, R * V) }) };
    }
    encoder.copyBufferToBuffer(this.ids, 0, this.staging, 0, R * 4);
    if (sampled) encoder.copyBufferToBuffer(this.drawn, 0, this.staging, R * 4, R * 4);
    return {
      bytes: (sampled ? 2 : 1) * R * 4,
      read: (data) => {
        const greedy = decodeArgmaxIds(new Uint32Array(data, 0, R));
        if (!sampled) return greedy;
        const drawn = decodeArgmaxIds(new Uint32Array(data, R * 4, R));
        const isSampled = (i: number) => sampling[i].temperature > 0;
        return {
          ids: greedy.ids.map((id, i) => (isSampled(i) ? drawn.ids[i] : id)),
          nonFinite: greedy.nonFinite,
          nonFiniteProbs: drawn.nonFinite.map((bad, i) => (isSampled(i) ? bad : 0)),
        };
      },
    };
  }

  /**
   * The head's call sites for `rows.length` rows, each encoded on its own (bench --profile; TransformerPlan.profileSites):
   * ln_f, the LM head and argmax run in every decode step; the penalty and the draw only for rows that use them
   * (occurrences 0), and are set up here with `rows`' penalties, histories, temperatures and sampling settings (the
   * draw reads argmax's ids: each repeat of it follows the argmax a previous site left in the buffer).
   */
  profileSites(rows: readonly RowSampling[]): ProfileSite[] {
    const R = rows.length;
    this.uploadPenalties(rows);
    this.uploadSampling(rows);
    const site = (label: string, occurrences: number, call: { encode(pass: GPUComputePassEncoder, rows: number): void }) => ({ label, occurrences, encode: (pass: GPUComputePassEncoder) => call.encode(pass, R) });
    return [
      site('ln_f', 1, this.finalNorm),
      site('lm head', 1, this.lmHead),
      site('repetition penalty', 0, this.penaltyCall),
      site('argmax', 1, this.argmaxCall),
      site('sample', 0, this.sampleCall),
    ];
  }

  /** Sampled rows' 1/τ (as softmax.wgsl took it: the draw's weights must keep its bits) and settings; greedy rows inactive. */
  private uploadSampling(rows: readonly RowSampling[]): void {
    const queue = this.gpu.device.queue;
    queue.writeBuffer(this.invTemperature, 0, Float32Array.from(rows, (r) => (r.temperature > 0 ? 1 / r.temperature : 1)));
    queue.writeBuffer(this.sampleSettings, 0, packSampleSettings(rows.map((r) => ({ ...r, active: r.temperature > 0 }))));
  }

  private uploadPenalties(rows: readonly RowSampling[]): void {
    const offsets = new Uint32Array(rows.length + 1);
    rows.forEach((r, i) => (offsets[i + 1] = offsets[i] + (r.repetitionPenalty !== 1 ? r.history.length : 0)));
    const history = new Uint32Array(Math.max(1, offsets[rows.length]));
    rows.forEach((r, i) => r.repetitionPenalty !== 1 && history.set(r.history, offsets[i]));
    const queue = this.gpu.device.queue;
    queue.writeBuffer(this.historyOffsets, 0, offsets);
    queue.writeBuffer(this.history, 0, history);
    queue.writeBuffer(this.penalty, 0, Float32Array.from(rows, (r) => r.repetitionPenalty));
  }

  destroy(): void {
    for (const r of this.owned) r.destroy();
  }
}
