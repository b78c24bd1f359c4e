// platform.ts for the browser project of vitest.config.ts (see there): Chromium's WebGPU (SwiftShader without a GPU),
// and the repository's files fetched from the Vite server vitest runs (its root is the repository). Whether a file
// exists is asked of the Node side (a vitest browser command), since a dev server may answer a missing file with 200.
import { commands } from 'vitest/browser';
import { type GpuContext, requestGpuContext } from '../../src/gpu/context.ts';
import { bytesSource } from '../../src/io/byteSource.ts';
import { ConfigError } from '../../src/errors.ts';
import type { ModelFiles } from '../../src/io/modelFiles.ts';

declare module 'vitest/browser' {
  interface BrowserCommands {
    projectFileExists(path: string): Promise<boolean>;
  }
}

export const PLATFORM: 'node' | 'browser' = 'browser';

export function createTestGpuContext(): Promise<GpuContext> {
  if (!('gpu' in navigator)) throw new Error('this browser has no navigator.gpu: start Chromium with --enable-unsafe-webgpu');
  return requestGpuContext(navigator.gpu, { allowSoftware: true });
}

export async function readProjectBytes(path: string): Promise<Uint8Array> {
  if (!(await commands.projectFileExists(path))) throw new Error(`${path} does not exist in the repository`);
  const response = await fetch(`/${path}`);
  if (!response.ok) throw new Error(`GET /${path}: HTTP ${response.status}`);
  return new Uint8Array(await response.arrayBuffer());
}

export async function projectModelFiles(dir: string): Promise<ModelFiles> {
  const bytesOf = async (file: string) => {
    try {
      return await readProjectBytes(`${dir}/${file}`);
    } catch (e) {
      throw new ConfigError(`${dir}/${file}: ${(e as Error).message}`);
    }
  };
  return {
    name: dir,
    has: (file) => commands.projectFileExists(`${dir}/${file}`),
    text: async (file) => new TextDecoder().decode(await bytesOf(file)),
    open: async (file) => bytesSource(file, await bytesOf(file)),
  };
}
