// Entry point of the command line. Dawn writes adapter warnings straight to the process's stderr from native code,
// out of JavaScript's reach ("maxDynamicUniformBuffersPerPipelineLayout artificially reduced…" on the OpenGL ES
// software path). The CLI promises a few clean lines on stderr, so it runs itself as a child process and drops those
// lines on the way; everything else passes through unchanged. With --debug nothing is filtered.
import { spawn } from 'node:child_process';

const CHILD = 'GPT_WEBGPU_CLI_CHILD';
const STDERR_TTY_ENV = 'GPT_WEBGPU_CLI_STDERR_COLUMNS';
const args = process.argv.slice(2);

if (process.env[CHILD] || args.includes('--debug')) {
  // main() catches what it awaits; anything thrown outside it (a rejected promise nobody awaited, a failing import of
  // the Dawn module) still ends as one line, never a stack trace, unless --debug asks for it.
  const last = (e: unknown) => {
    process.stderr.write(args.includes('--debug') ? `${(e as Error)?.stack ?? e}\n` : `error: ${(e as Error)?.message ?? String(e)} (run with --debug for details)\n`);
    process.exit(1);
  };
  process.on('uncaughtException', last);
  process.on('unhandledRejection', last);
  const { main } = await import('./main.ts');
  const code = await main(args);
  // Dawn keeps the process alive while its GPU objects exist: exit explicitly once stdout has drained.
  process.stdout.write('', () => process.exit(code));
} else {
  const child = spawn(process.execPath, [...process.execArgv, process.argv[1], ...args], {
    // The child's stderr is our pipe, so it cannot see the terminal: tell it, for its progress bars (progress.ts).
    env: { ...process.env, [CHILD]: '1', ...(process.stderr.isTTY ? { [STDERR_TTY_ENV]: String(process.stderr.columns || 80) } : {}) },
    stdio: ['inherit', 'inherit', 'pipe'],
  });
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => child.kill(signal));
  const filter = dawnWarningFilter((line) => process.stderr.write(line));
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', filter.push);
  child.on('close', (code, signal) => {
    filter.end();
    process.exitCode = code ?? (signal ? 1 : 0);
  });
}

/** Line filter: drops Dawn's "Warning: …" lines with the "    at operator() (…)" and blank lines that follow them. */
function dawnWarningFilter(write: (line: string) => void) {
  let partial = '';
  let dropping = false;
  const line = (text: string) => {
    if (text.startsWith('Warning: ')) dropping = true;
    else if (!(dropping && (/^\s+at /.test(text) || text.trim() === ''))) dropping = false;
    if (!dropping) write(`${text}\n`);
  };
  return {
    push(chunk: string) {
      const lines = (partial + chunk).split('\n');
      partial = lines.pop()!;
      lines.forEach(line);
      // A progress bar redraws one line with \r and no newline: pass it through now, not when the line ends.
      if (partial.includes('\r') && !partial.startsWith('Warning: ')) {
        write(partial);
        partial = '';
      }
    },
    end() {
      if (partial) line(partial);
      partial = '';
    },
  };
}
