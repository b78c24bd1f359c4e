// What a test needs from the machine it runs on, for Node (Dawn: hardware if present, else Mesa llvmpipe). The
// browser project of vitest.config.ts swaps this module for platform.browser.ts (same exports, Chromium's WebGPU:
// SwiftShader without a GPU), so each GPU test is written once and runs on both WebGPU implementations.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { GpuContext } from '../../src/gpu/context.ts';
import { createNodeGpuContext } from '../../src/gpu/node.ts';
import type { ModelFiles } from '../../src/io/modelFiles.ts';
import { folderModelFiles } from '../../src/io/nodeModelFiles.ts';

/** Which WebGPU implementation the tests run on: Dawn in Node, or the browser's. */
export const PLATFORM: 'node' | 'browser' = 'node';

const ROOT = join(import.meta.dirname, '..', '..');

export function createTestGpuContext(): Promise<GpuContext> {
  return createNodeGpuContext({ onNotice: () => {} });
}

/** A file of the repository (path relative to its root), e.g. 'test/fixtures/gpt2-tiny/expected.json'. */
export async function readProjectBytes(path: string): Promise<Uint8Array> {
  return new Uint8Array(await readFile(join(ROOT, path)));
}

/** A model folder of the repository (path relative to its root), e.g. 'models/gpt2-shakespeare'. */
export function projectModelFiles(dir: string): Promise<ModelFiles> {
  return folderModelFiles(join(ROOT, dir));
}
