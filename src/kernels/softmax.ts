// Row softmax with temperature (shaders/softmax.wgsl), for sampling.
import template from '../../shaders/softmax.wgsl?raw';
import type { GpuContext } from '../gpu/context.ts';
import { computePipeline, KernelCall, Params } from '../gpu/kernel.ts';

export interface SoftmaxArgs {
  logits: GPUBuffer; // (R, V)
  probs: GPUBuffer; // (R, V)
  vocab: number; // V
}

/** `encode(pass, rows)` uses the temperature last given to `setTemperature` (default 1). */
export class SoftmaxCall {
  private temperature = 1;
  private readonly call: KernelCall;

  constructor(gpu: GpuContext, label: string, a: SoftmaxArgs) {
    const pipeline = computePipeline(gpu, 'softmax', template);
    this.call = new KernelCall(gpu, label, pipeline, [a.logits, a.probs], (rows) => ({
      params: new Params().u32(rows).u32(a.vocab).f32(1 / this.temperature),
      grid: [rows],
    }));
  }

  setTemperature(temperature: number): void {
    this.temperature = temperature;
  }

  encode(pass: GPUComputePassEncoder, rows: number): void {
    this.call.encode(pass, rows);
  }

  destroy(): void {
    this.call.destroy();
  }
}
