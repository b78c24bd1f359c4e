// Progress of long CLI steps (downloading a model, uploading weights to the GPU) on stderr. On a terminal: one bar,
// redrawn in place at most ten times a second and cleared when done. Elsewhere (a pipe, a log file, CI): a plain line
// at each quarter, so a log shows that a long load is moving without filling with carriage returns.
// Only for work of at least PROGRESS_MIN_BYTES: the demo model (15 MiB) loads in well under a second, and lines for it
// would only be noise around the output that matters.

export const PROGRESS_MIN_BYTES = 64 * 2 ** 20;

export interface ProgressSink {
  isTTY?: boolean;
  columns?: number;
  write(text: string): unknown;
}

export interface Progress {
  /** `done` of `total` bytes so far (total may grow, e.g. as download sizes become known). */
  update(done: number, total: number): void;
  /** The work finished or failed: clear the bar (a terminal) or write the last line (elsewhere). */
  end(): void;
}

/**
 * stderr as a progress sink. The CLI runs as a child of itself (cli.ts) with stderr piped through a filter, so the
 * child learns from GPT_WEBGPU_CLI_STDERR_COLUMNS that the parent's stderr is a terminal, and how wide.
 */
export function stderrSink(env: NodeJS.ProcessEnv = process.env): ProgressSink {
  const piped = env.GPT_WEBGPU_CLI_STDERR_COLUMNS !== undefined;
  const columns = Number(env.GPT_WEBGPU_CLI_STDERR_COLUMNS);
  return {
    isTTY: Boolean(process.stderr.isTTY) || piped,
    columns: process.stderr.columns || (columns > 0 ? columns : 80),
    write: (text) => process.stderr.write(text),
  };
}

export function mib(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}

/** A progress display for `label` ("uploading weights to the GPU"); silent below `minBytes`. */
export function createProgress(sink: ProgressSink, label: string, options: { minBytes?: number; now?: () => number } = {}): Progress {
  const minBytes = options.minBytes ?? PROGRESS_MIN_BYTES;
  const now = options.now ?? Date.now;
  let lastDraw = -Infinity;
  let lastQuarter = -1;
  let drawn = false;
  let last = { done: 0, total: 0 };
  const text = (done: number, total: number) => `${label}: ${Math.floor((done / total) * 100)}% (${mib(done)} of ${mib(total)})`;
  return {
    update(done, total) {
      last = { done, total };
      if (!(total >= minBytes)) return;
      if (sink.isTTY) {
        const t = now();
        if (t - lastDraw < 100 && done < total) return;
        lastDraw = t;
        const tail = ` ${text(done, total)}`;
        const width = Math.max(10, Math.min(40, (sink.columns ?? 80) - tail.length - 3));
        const filled = Math.round((done / total) * width);
        sink.write(`\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}]${tail}\x1b[K`);
        drawn = true;
      } else {
        const quarter = Math.floor((done / total) * 4);
        if (quarter > lastQuarter && quarter < 4) {
          lastQuarter = quarter;
          sink.write(`${text(done, total)}\n`);
        }
      }
    },
    end() {
      if (sink.isTTY) {
        if (drawn) sink.write('\r\x1b[K');
      } else if (last.total >= minBytes && lastQuarter >= 0 && last.done >= last.total) {
        sink.write(`${text(last.done, last.total)}\n`);
      }
    },
  };
}
