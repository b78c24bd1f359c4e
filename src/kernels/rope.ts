// Rotary position embedding on q and k, in place (shaders/rope.wgsl), with cos/sin tables made here in float64.
import template from '../../shaders/rope.wgsl?raw';
import type { GpuContext } from '../gpu/context.ts';
import { uploadBuffer } from '../gpu/buffers.ts';
import { computePipeline, KernelCall, Params } from '../gpu/kernel.ts';

export interface RopeTables {
  cos: GPUBuffer; // (P, R/2)
  sin: GPUBuffer; // (P, R/2)
  positions: number; // P
  rotaryDims: number; // R
}

/** θ(pos, i) = pos · base^(−2i/R) for i < R/2, evaluated in float64 and rounded once to f32. */
export function ropeAngles(positions: number, rotaryDims: number, base: number): { cos: Float32Array; sin: Float32Array } {
  const half = rotaryDims / 2;
  const cos = new Float32Array(positions * half);
  const sin = new Float32Array(positions * half);
  for (let i = 0; i < half; i++) {
    const invFreq = 1 / base ** ((2 * i) / rotaryDims);
    for (let pos = 0; pos < positions; pos++) {
      cos[pos * half + i] = Math.cos(pos * invFreq);
      sin[pos * half + i] = Math.sin(pos * invFreq);
    }
  }
  return { cos, sin };
}

export function createRopeTables(gpu: GpuContext, positions: number, rotaryDims: number, base: number): RopeTables {
  const { cos, sin } = ropeAngles(positions, rotaryDims, base);
  return { cos: uploadBuffer(gpu, 'rope cos', cos), sin: uploadBuffer(gpu, 'rope sin', sin), positions, rotaryDims };
}

export interface RopeArgs {
  qkv: GPUBuffer; // (T, 3C), q and k rotated in place
  tokens: GPUBuffer; // (T) vec4<u32>
  tables: RopeTables;
  channels: number; // C
  numHeads: number; // H
  headDim: number; // D
}

export function rope(gpu: GpuContext, label: string, a: RopeArgs): KernelCall {
  const pipeline = computePipeline(gpu, 'rope', template);
  return new KernelCall(gpu, label, pipeline, [a.qkv, a.tokens, a.tables.cos, a.tables.sin], (rows) => ({
    params: new Params()
      .u32('rows', rows)
      .u32('channels', a.channels)
      .u32('head_dim', a.headDim)
      .u32('half_rotary', a.tables.rotaryDims / 2)
      .u32('positions', a.tables.positions),
    grid: [2 * a.numHeads, rows],
  }));
}
