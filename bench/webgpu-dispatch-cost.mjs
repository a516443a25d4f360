// The fixed cost of a dispatch in a compute pass, as one JSON object: for a trivial kernel over 1, 1,024 and
// 4,096 workgroups, 1 and 201 dispatches in one pass (each reading and writing one buffer, or two buffers
// in turn), the wall-clock µs a dispatch adds to a submit-and-wait, the GPU µs (timestamps at the pass's
// start and end, where the adapter has `timestamp-query`) and the µs the host spends encoding it.
//   node bench/webgpu-dispatch-cost.mjs
import { requestNodeDevice } from '../js/src/gpu/node_device.mjs';

const { adapter, device } = await requestNodeDevice({ features: ['timestamp-query'] });
const timed = device.features.has('timestamp-query');
const querySet = timed ? device.createQuerySet({ type: 'timestamp', count: 2 }) : null;
const resolved = timed ? device.createBuffer({ size: 16, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC }) : null;
const read = timed ? device.createBuffer({ size: 16, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST }) : null;

// One pass of n dispatches; returns [wall ms, GPU µs or 0, encode µs].
async function pass(pipeline, bindGroups, groups, n) {
  const started = performance.now();
  const enc = device.createCommandEncoder();
  const p = enc.beginComputePass(timed ? { timestampWrites: { querySet, beginningOfPassWriteIndex: 0, endOfPassWriteIndex: 1 } } : {});
  p.setPipeline(pipeline);
  for (let i = 0; i < n; i++) {
    p.setBindGroup(0, bindGroups[i % bindGroups.length]);
    p.dispatchWorkgroups(groups);
  }
  p.end();
  if (timed) {
    enc.resolveQuerySet(querySet, 0, 2, resolved, 0);
    enc.copyBufferToBuffer(resolved, 0, read, 0, 16);
  }
  const commands = enc.finish();
  const encodeUs = (performance.now() - started) * 1000;
  device.queue.submit([commands]);
  let gpuUs = 0;
  if (timed) {
    await read.mapAsync(GPUMapMode.READ);
    const t = new BigUint64Array(read.getMappedRange().slice(0));
    read.unmap();
    gpuUs = Number(t[1] - t[0]) / 1000;
  } else {
    await device.queue.onSubmittedWorkDone();
  }
  return [performance.now() - started, gpuUs, encodeUs];
}

const out = {};
for (const [wg, groups] of [[64, 1], [64, 1024], [128, 4096]]) {
  const code = `@group(0) @binding(0) var<storage, read_write> b: array<f32>;
@compute @workgroup_size(${wg}) fn main(@builtin(global_invocation_id) g: vec3<u32>) { b[g.x] = b[g.x] * 0.5 + 1.0; }`;
  const pipeline = device.createComputePipeline({ layout: 'auto', compute: { module: device.createShaderModule({ code }), entryPoint: 'main' } });
  const buffers = [0, 1].map(() => device.createBuffer({ size: wg * groups * 4, usage: GPUBufferUsage.STORAGE }));
  const bindGroups = buffers.map((buffer) => device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries: [{ binding: 0, resource: { buffer } }] }));
  for (const [name, groupsUsed] of [['one_buffer', bindGroups.slice(0, 1)], ['two_buffers', bindGroups]]) {
    await pass(pipeline, groupsUsed, groups, 10);
    const mean = async (n) => {
      const sum = [0, 0, 0];
      for (let r = 0; r < 20; r++) (await pass(pipeline, groupsUsed, groups, n)).forEach((v, i) => { sum[i] += v / 20; });
      return sum;
    };
    const one = await mean(1), many = await mean(201);
    out[`${groups}x${wg}_${name}`] = {
      wall_us: +((many[0] - one[0]) * 1000 / 200).toFixed(2),
      gpu_us: timed ? +((many[1] - one[1]) / 200).toFixed(2) : null,
      encode_us: +((many[2] - one[2]) / 200).toFixed(2),
    };
  }
  buffers.forEach((b) => b.destroy());
}
const info = adapter.info ?? {};
console.log(JSON.stringify({ adapter: `${info.vendor ?? ''} ${info.architecture ?? ''} ${info.description ?? ''}`.trim(), per_dispatch: out }));
device.destroy();
