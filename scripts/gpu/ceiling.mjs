// Copied verbatim from the project's shared GPU kit (peers/ceiling.mjs, 2026-12-03) so it travels with the checkout: scripts/gpu-bench.sh runs it.
// WebGPU ceilings on whatever adapter Dawn picks: bandwidth, f32 matmul, dispatch overhead, readback latency.
import { create, globals } from 'webgpu';
Object.assign(globalThis, globals);
const flags = (process.env.DAWN_FLAGS || '').split(' ').filter(Boolean);
const gpu = create(flags);
const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
if (!adapter) { console.log('NO ADAPTER'); process.exit(1); }
const info = adapter.info;
console.log('adapter', JSON.stringify({ vendor: info.vendor, arch: info.architecture, device: info.device, desc: info.description }));
console.log('features', [...adapter.features].join(','));
const L = adapter.limits;
console.log('limits', JSON.stringify({ maxStorageBufferBindingSize: L.maxStorageBufferBindingSize, maxBufferSize: L.maxBufferSize, maxComputeWorkgroupStorageSize: L.maxComputeWorkgroupStorageSize, maxComputeInvocationsPerWorkgroup: L.maxComputeInvocationsPerWorkgroup, maxStorageBuffersPerShaderStage: L.maxStorageBuffersPerShaderStage }));
const want = ['timestamp-query', 'shader-f16', 'subgroups'].filter(f => adapter.features.has(f));
const device = await adapter.requestDevice({ requiredFeatures: want, requiredLimits: { maxStorageBufferBindingSize: L.maxStorageBufferBindingSize, maxBufferSize: L.maxBufferSize, maxComputeWorkgroupStorageSize: L.maxComputeWorkgroupStorageSize, maxComputeInvocationsPerWorkgroup: L.maxComputeInvocationsPerWorkgroup } });
device.addEventListener('uncapturederror', e => console.log('GPU ERROR', e.error.message));
const SMALL = process.env.SMALL === '1';
const S = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
function buf(bytes, init) { const b = device.createBuffer({ size: bytes, usage: S }); if (init) device.queue.writeBuffer(b, 0, init); return b; }
function rnd(n) { const a = new Float32Array(n); for (let i = 0; i < n; i++) a[i] = Math.random() - 0.5; return a; }
function pipe(code) { return device.createComputePipeline({ layout: 'auto', compute: { module: device.createShaderModule({ code }), entryPoint: 'main' } }); }
function bg(p, bufs, uni) { const entries = bufs.map((b, i) => ({ binding: i, resource: { buffer: b } })); return device.createBindGroup({ layout: p.getBindGroupLayout(0), entries }); }
async function timeIt(label, encodeFn, iters, work) {
  // warmup
  for (let i = 0; i < 3; i++) { const e = device.createCommandEncoder(); encodeFn(e); device.queue.submit([e.finish()]); }
  await device.queue.onSubmittedWorkDone();
  const t0 = performance.now();
  const e = device.createCommandEncoder();
  for (let i = 0; i < iters; i++) encodeFn(e);
  device.queue.submit([e.finish()]);
  await device.queue.onSubmittedWorkDone();
  const ms = (performance.now() - t0) / iters;
  console.log(label, 'ms/iter', ms.toFixed(4), work(ms));
  return ms;
}
// 1. bandwidth: vec4 copy
{
  const n4 = SMALL ? (1 << 20) : (64 << 20); // vec4 count -> 1 GiB? 64M vec4 = 1 GiB per buffer; cap by limit
  const cap = Math.min(L.maxStorageBufferBindingSize, 512 << 20) / 16;
  const N = Math.min(n4, cap);
  const a = buf(N * 16), b = buf(N * 16);
  const p = pipe(`@group(0) @binding(0) var<storage, read> a: array<vec4f>; @group(0) @binding(1) var<storage, read_write> b: array<vec4f>;
  @compute @workgroup_size(256) fn main(@builtin(global_invocation_id) g: vec3u, @builtin(num_workgroups) nw: vec3u) { let i = g.x + g.y * nw.x * 256u; if (i < arrayLength(&a)) { b[i] = a[i] * 1.0001; } }`);
  const bgr = bg(p, [a, b]);
  const groups = N / 256; const gx = Math.min(groups, 65535); const gy = Math.ceil(groups / gx);
  await timeIt(`copy ${(N * 16 / 2 ** 20).toFixed(0)}MiB`, e => { const ps = e.beginComputePass(); ps.setPipeline(p); ps.setBindGroup(0, bgr); ps.dispatchWorkgroups(gx, gy); ps.end(); }, SMALL ? 5 : 50, ms => `GB/s(r+w) ${(2 * N * 16 / ms / 1e6).toFixed(1)}`);
}
// 2. f32 tiled matmul 64x64 tile, 4x4 per thread
{
  const M = SMALL ? 256 : 4096, N = M, K = M;
  const A = buf(M * K * 4, rnd(M * K)), B = buf(K * N * 4, rnd(K * N)), C = buf(M * N * 4);
  const code = `
@group(0) @binding(0) var<storage, read> A: array<f32>;
@group(0) @binding(1) var<storage, read> B: array<f32>;
@group(0) @binding(2) var<storage, read_write> C: array<f32>;
const M = ${M}u; const N = ${N}u; const K = ${K}u;
const TS = 64u; const TK = 16u;
var<workgroup> As: array<array<f32, 64>, 16>;
var<workgroup> Bs: array<array<f32, 64>, 16>;
@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let row0 = wg.y * TS; let col0 = wg.x * TS;
  var acc: array<array<f32, 4>, 4>;
  let tid = lid.y * 16u + lid.x;
  for (var k0 = 0u; k0 < K; k0 += TK) {
    for (var l = 0u; l < 4u; l++) {
      let idx = tid + l * 256u; // 0..1023 covers 64x16
      let r = idx / 16u; let c = idx % 16u;
      As[c][r] = A[(row0 + r) * K + k0 + c];
      let rb = idx / 64u; let cb = idx % 64u;
      Bs[rb][cb] = B[(k0 + rb) * N + col0 + cb];
    }
    workgroupBarrier();
    for (var kk = 0u; kk < TK; kk++) {
      var a: array<f32, 4>; var b: array<f32, 4>;
      for (var i = 0u; i < 4u; i++) { a[i] = As[kk][lid.y * 4u + i]; b[i] = Bs[kk][lid.x * 4u + i]; }
      for (var i = 0u; i < 4u; i++) { for (var j = 0u; j < 4u; j++) { acc[i][j] += a[i] * b[j]; } }
    }
    workgroupBarrier();
  }
  for (var i = 0u; i < 4u; i++) { for (var j = 0u; j < 4u; j++) { C[(row0 + lid.y * 4u + i) * N + col0 + lid.x * 4u + j] = acc[i][j]; } }
}`;
  const p = pipe(code); const bgr = bg(p, [A, B, C]);
  await timeIt(`matmul f32 ${M}^3 (simple 64x64 tile)`, e => { const ps = e.beginComputePass(); ps.setPipeline(p); ps.setBindGroup(0, bgr); ps.dispatchWorkgroups(N / 64, M / 64); ps.end(); }, SMALL ? 2 : 20, ms => `GFLOP/s ${(2 * M * N * K / ms / 1e6).toFixed(0)}`);
}
// 3. dispatch overhead: many tiny dispatches in one pass, and one submit per dispatch
{
  const a = buf(1024);
  const p = pipe(`@group(0) @binding(0) var<storage, read_write> a: array<f32>; @compute @workgroup_size(64) fn main(@builtin(global_invocation_id) g: vec3u) { a[g.x] += 1.0; }`);
  const bgr = bg(p, [a]);
  const n = SMALL ? 200 : 5000;
  await timeIt(`${n} tiny dispatches in 1 pass`, e => { const ps = e.beginComputePass(); ps.setPipeline(p); ps.setBindGroup(0, bgr); for (let i = 0; i < n; i++) ps.dispatchWorkgroups(1); ps.end(); }, 3, ms => `us/dispatch ${(ms * 1000 / n).toFixed(2)}`);
  await timeIt(`${n} tiny dispatches, 1 pass each`, e => { for (let i = 0; i < n; i++) { const ps = e.beginComputePass(); ps.setPipeline(p); ps.setBindGroup(0, bgr); ps.dispatchWorkgroups(1); ps.end(); } }, 3, ms => `us/pass ${(ms * 1000 / n).toFixed(2)}`);
  // submit + readback latency of 4 bytes
  const rb = device.createBuffer({ size: 4, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  const lat = [];
  for (let i = 0; i < (SMALL ? 20 : 200); i++) {
    const t0 = performance.now();
    const e = device.createCommandEncoder(); const ps = e.beginComputePass(); ps.setPipeline(p); ps.setBindGroup(0, bgr); ps.dispatchWorkgroups(1); ps.end();
    e.copyBufferToBuffer(a, 0, rb, 0, 4); device.queue.submit([e.finish()]);
    await rb.mapAsync(GPUMapMode.READ); rb.unmap();
    lat.push(performance.now() - t0);
  }
  lat.sort((x, y) => x - y);
  console.log('submit+dispatch+mapAsync(4B) roundtrip ms p50', lat[lat.length >> 1].toFixed(3), 'p10', lat[Math.floor(lat.length * 0.1)].toFixed(3), 'p90', lat[Math.floor(lat.length * 0.9)].toFixed(3));
}
process.exit(0);
