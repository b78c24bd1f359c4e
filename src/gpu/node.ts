// WebGPU in Node through Dawn (npm `webgpu`). Prefers a hardware adapter (Vulkan, Metal, D3D12); where there is none,
// falls back to Dawn's OpenGL ES backend on Mesa llvmpipe, the software path that works on machines without a GPU, and
// says so on stderr. Chromium's SwiftShader Vulkan ICD is deliberately not used: under Dawn in Node it aborts the process
// on real kernels.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { WebGpuUnavailableError } from '../errors.ts';
import { type GpuContext, requestGpuContext } from './context.ts';

export type NodeBackend = 'auto' | 'hardware' | 'software';

type DawnModule = { create(flags: string[]): GPU; globals: Record<string, unknown> };

let dawn: DawnModule | undefined;
/** Dawn's `GPU` objects must stay referenced while devices live (the process exits once they are released). */
const instances: GPU[] = [];

async function loadDawn(): Promise<DawnModule> {
  if (dawn) return dawn;
  try {
    dawn = (await import('webgpu')) as unknown as DawnModule;
  } catch (e) {
    throw new WebGpuUnavailableError(`the Dawn WebGPU module (npm package "webgpu") could not be loaded: ${(e as Error).message}; run npm ci`);
  }
  // Kernels use the WebGPU globals (GPUBufferUsage, GPUMapMode, error classes) as they would in a browser.
  for (const [name, value] of Object.entries(dawn.globals)) {
    if (!(name in globalThis)) (globalThis as Record<string, unknown>)[name] = value;
  }
  return dawn;
}

export interface NodeGpuOptions {
  backend?: NodeBackend;
  /** Where to say that the software adapter is in use (default: one line on stderr). */
  onNotice?: (message: string) => void;
}

/**
 * On Linux Dawn's hardware path is Vulkan: without the Vulkan loader there is nothing to find, and asking anyway only
 * prints a warning from inside Dawn. Other platforms (Metal, D3D12) always try.
 */
function mayHaveHardwareBackend(): boolean {
  if (process.platform !== 'linux') return true;
  const dirs = [...(process.env.LD_LIBRARY_PATH ?? '').split(':').filter(Boolean), '/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/lib64', '/usr/lib', '/usr/local/lib'];
  return dirs.some((dir) => existsSync(join(dir, 'libvulkan.so.1')));
}

export async function createNodeGpuContext(options: NodeGpuOptions = {}): Promise<GpuContext> {
  const { create } = await loadDawn();
  const backend = options.backend ?? (process.env.GPT_WEBGPU_BACKEND as NodeBackend | undefined) ?? 'auto';
  const notice = options.onNotice ?? ((m: string) => process.stderr.write(`${m}\n`));

  if (backend === 'hardware' || (backend === 'auto' && mayHaveHardwareBackend())) {
    const gpu = create([]);
    const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
    const text = adapter ? `${adapter.info.device} ${adapter.info.description}`.toLowerCase() : '';
    if (adapter && !/swiftshader|lavapipe|llvmpipe/.test(text)) {
      instances.push(gpu);
      return requestGpuContext(gpu, { powerPreference: 'high-performance' });
    }
    if (backend === 'hardware') throw new WebGpuUnavailableError('no hardware GPU adapter was found (Vulkan, Metal or D3D12); install the GPU driver, or use the software backend');
  }

  // Mesa's EGL needs these to run headless; they must be set before Dawn initializes OpenGL ES.
  process.env.EGL_PLATFORM ??= 'surfaceless';
  process.env.XDG_RUNTIME_DIR ??= '/tmp';
  const gpu = create(['backend=opengles']);
  instances.push(gpu);
  let context: GpuContext;
  try {
    context = await requestGpuContext(gpu, { featureLevel: 'compatibility' });
  } catch (e) {
    if (e instanceof WebGpuUnavailableError) {
      throw new WebGpuUnavailableError(
        'no GPU adapter was found, and the software fallback (OpenGL ES on Mesa llvmpipe) is unavailable; on Debian install libegl1 libegl-mesa0 libgles2 libgl1-mesa-dri',
      );
    }
    throw e;
  }
  if (backend === 'auto') notice(`gpt-webgpu: no hardware GPU adapter; using the software adapter (${context.adapter.device || 'Mesa llvmpipe'}, OpenGL ES): correct but slow`);
  return context;
}
