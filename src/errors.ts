// Every failure a user can cause or meet is one of these classes. Each message names the problem and, where there is
// one, the remedy, so the CLI can print `message` alone (no stack trace) and a web page can show it as is.

/**
 * Base class: `instanceof GptWebGpuError` tells an expected, explained failure from a bug. Each class spells its
 * `name` out, because bundlers rename classes and the name is what crosses a worker boundary or reaches a log.
 */
export class GptWebGpuError extends Error {
  override name = 'GptWebGpuError';
}

/** A safetensors file that breaks the format (header, dtypes, offsets, truncation). */
export class SafetensorsError extends GptWebGpuError {
  override name = 'SafetensorsError';
  constructor(
    readonly file: string,
    readonly problem: string,
    readonly tensor?: string,
  ) {
    super(`${file}${tensor === undefined ? '' : `, tensor "${tensor}"`}: ${problem}`);
  }
}

/** config.json is missing, not JSON, or describes a model this engine does not run. */
export class ConfigError extends GptWebGpuError {
  override name = 'ConfigError';
}

/** The weights do not match the config (missing tensor, wrong shape, unsupported dtype). */
export class ModelFormatError extends GptWebGpuError {
  override name = 'ModelFormatError';
}

/** A tokenizer file is missing or malformed, or text cannot be tokenized. */
export class TokenizerError extends GptWebGpuError {
  override name = 'TokenizerError';
}

/** No WebGPU here (no navigator.gpu, no Dawn module, no adapter). */
export class WebGpuUnavailableError extends GptWebGpuError {
  override name = 'WebGpuUnavailableError';
}

/** The adapter cannot hold what the model needs (binding size, buffer size, memory). */
export class GpuLimitError extends GptWebGpuError {
  override name = 'GpuLimitError';
}

/** WebGPU reported a validation, out-of-memory or internal error: a bug or an exhausted device, never a silent answer. */
export class GpuError extends GptWebGpuError {
  override name = 'GpuError';
  constructor(
    readonly kind: 'validation' | 'out-of-memory' | 'internal' | 'unknown',
    message: string,
  ) {
    super(`GPU ${kind} error: ${message}`);
  }
}

/** The GPU could not allocate memory (weights, KV pool, activations); nothing of the failed allocation is left behind. */
export class OutOfMemoryError extends GpuLimitError {
  override name = 'OutOfMemoryError';
  constructor(
    readonly what: string,
    readonly bytesNeeded: number,
    readonly bytesAllocated: number,
    remedy: string,
  ) {
    super(
      `the GPU ran out of memory allocating ${what} (${formatMiB(bytesNeeded)} needed, ${formatMiB(bytesAllocated)} already ` +
        `allocated by this engine; WebGPU does not report how much is free); ${remedy}`,
    );
  }
}

function formatMiB(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}

/** The GPU device was lost (driver reset, tab backgrounded, `device.destroy()`); create a new engine. */
export class DeviceLostError extends GptWebGpuError {
  override name = 'DeviceLostError';
}

/** A download that failed or was cut short (HTTP error, network error, truncated body, cancelled): names the URL. */
export class DownloadError extends GptWebGpuError {
  override name = 'DownloadError';
}

/** A request that cannot be served as asked: bad token ids, nonsense sampling values, a prompt too long. */
export class InvalidRequestError extends GptWebGpuError {
  override name = 'InvalidRequestError';
}

/** The prompt plus the tokens to generate do not fit the model's context window. */
export class ContextWindowExceededError extends InvalidRequestError {
  override name = 'ContextWindowExceededError';
  constructor(
    readonly promptTokens: number,
    readonly maxNewTokens: number,
    readonly contextLength: number,
  ) {
    super(
      `the prompt has ${promptTokens} tokens and ${maxNewTokens} new tokens were asked for, but the model's context ` +
        `window is ${contextLength} tokens; shorten the prompt, ask for fewer new tokens, or keep the prompt's last ` +
        `tokens (option keepLastTokens, CLI --keep-last-tokens)`,
    );
  }
}

/** Command-line usage errors (unknown option, missing value). */
export class UsageError extends GptWebGpuError {
  override name = 'UsageError';
}

/**
 * A step's logits (or sampling probabilities) held NaN or ±Inf: the model overflowed f32 for this request, so there is
 * no token to give. Only that request fails; the others in the batch go on.
 */
export class NumericalError extends GptWebGpuError {
  override name = 'NumericalError';
  constructor(
    /** Index of the token that was being generated (0: the first new token). */
    readonly step: number,
    /** Position in the sequence whose next-token logits were not finite. */
    readonly position: number,
    readonly what: 'logits' | 'probabilities',
  ) {
    super(
      `the ${what} for generated token ${step} (after position ${position}) hold NaN or infinity: the model's values ` +
        `overflowed f32; check the checkpoint's weights (values near the f32 or f16 range), or load it with weightFormat "f32"` +
        (what === 'probabilities' ? ', or use a larger temperature' : ''),
    );
  }
}
