// x += r (shaders/add.wgsl): the residual connection.
import template from '../../shaders/add.wgsl?raw';
import type { GpuContext } from '../gpu/context.ts';
import { ceilDiv, computePipeline, KernelCall, Params } from '../gpu/kernel.ts';

export interface ResidualAddArgs {
  x: GPUBuffer; // (T, C), updated in place
  r: GPUBuffer; // (T, C)
  channels: number; // C
}

export function residualAdd(gpu: GpuContext, label: string, a: ResidualAddArgs): KernelCall {
  const pipeline = computePipeline(gpu, 'add', template);
  return new KernelCall(gpu, label, pipeline, [a.x, a.r], (rows) => ({
    params: new Params().u32('rows', rows).u32('channels', a.channels),
    grid: [ceilDiv(a.channels, 64), rows],
  }));
}
