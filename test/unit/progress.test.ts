// The CLI's progress display: a bar redrawn in place on a terminal, a line per quarter elsewhere, nothing for small work.
import { describe, expect, it } from 'vitest';
import { createProgress, stderrSink } from '../../src/cli/progress.ts';

const MiB = 2 ** 20;

function sink(isTTY: boolean) {
  const writes: string[] = [];
  return { isTTY, columns: 100, writes, write: (t: string) => writes.push(t) };
}

describe('createProgress', () => {
  it('on a terminal draws a bar with \\r, at most every 100 ms, and clears it at the end', () => {
    const out = sink(true);
    let t = 0;
    const p = createProgress(out, 'uploading', { minBytes: MiB, now: () => t });
    p.update(0, 10 * MiB);
    p.update(1 * MiB, 10 * MiB); // within 100 ms: skipped
    t = 150;
    p.update(5 * MiB, 10 * MiB);
    t = 160;
    p.update(10 * MiB, 10 * MiB); // the last one is always drawn
    p.end();
    expect(out.writes).toHaveLength(4);
    expect(out.writes[1]).toMatch(/^\r\[#{20}\.{20}\] uploading: 50% \(5\.0 MiB of 10\.0 MiB\)/);
    expect(out.writes[2]).toMatch(/\[#{40}\] uploading: 100%/);
    expect(out.writes[3]).toBe('\r\x1b[K');
  });

  it('elsewhere writes plain lines, one per quarter and one at the end, without \\r', () => {
    const out = sink(false);
    const p = createProgress(out, 'uploading', { minBytes: MiB });
    for (let done = 0; done <= 100; done++) p.update(done * MiB, 100 * MiB);
    p.end();
    expect(out.writes).toEqual(['0%', '25%', '50%', '75%', '100%'].map((pct) => expect.stringMatching(new RegExp(`^uploading: ${pct} .*\\n$`))));
    expect(out.writes.join('')).not.toContain('\r');
  });

  it('is silent for work below minBytes', () => {
    for (const tty of [true, false]) {
      const out = sink(tty);
      const p = createProgress(out, 'uploading', { minBytes: 64 * MiB });
      p.update(10 * MiB, 15 * MiB);
      p.update(15 * MiB, 15 * MiB);
      p.end();
      expect(out.writes).toEqual([]);
    }
  });

  it('stderrSink counts as a terminal when the parent CLI process says its stderr is one (the child writes to a pipe)', () => {
    expect(stderrSink({ GPT_WEBGPU_CLI_STDERR_COLUMNS: '120' })).toMatchObject({ isTTY: true });
    expect(stderrSink({}).isTTY).toBe(Boolean(process.stderr.isTTY));
  });
});
