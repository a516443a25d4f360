// GPU time per kind of dispatch, from `timestamp-query`, sampled: every EVERY-th decode call is encoded
// with each dispatch in a compute pass of its own, timed at the pass's start and end, and read back without
// waiting (the next call does not wait for it). Other calls run as one pass, untouched. A kind is a
// dispatch's label without its layer and index (blk.3.attn_q → attn_q).
const EVERY = 16;
const READS = 2;  // timed calls whose timestamps may be on their way back at once

export const dispatchKind = (label) => label.replace(/^blk\.\d+\./, '').replace(/\[\d+\]$/, '');

export class DispatchTimer {
  #querySet;
  #resolved;
  #reads;           // every read buffer, free or on its way back
  #free;
  #calls = 0;
  #pending = null;  // the labels of the call being encoded

  /**
   * @param {GPUDevice} device one with the 'timestamp-query' feature
   * @param {number} maxDispatches the most dispatches of one call (decode list with its sampling)
   * @param {{every?: number}} [options]
   */
  constructor(device, maxDispatches, { every = EVERY } = {}) {
    this.every = every;
    const bytes = 16 * maxDispatches;
    this.#querySet = device.createQuerySet({ label: 'dispatch-timer', type: 'timestamp', count: 2 * maxDispatches });
    this.#resolved = device.createBuffer({ label: 'dispatch-timer.resolve', size: bytes, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });
    this.#reads = Array.from({ length: READS }, (_, i) => device.createBuffer({ label: `dispatch-timer.read.${i}`, size: bytes, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST }));
    this.#free = [...this.#reads];
    /** Per kind: {us (summed over timed calls), dispatches (per call)}; steps: calls timed. */
    this.kinds = {};
    this.steps = 0;
  }

  /** A timer when the device offers timestamps, else null. */
  static forDevice(device, maxDispatches, options) {
    return device.features.has('timestamp-query') ? new DispatchTimer(device, maxDispatches, options) : null;
  }

  /** Whether this decode call is one to time (a read buffer must be free: a slow readback skips calls). */
  wants() {
    return ++this.#calls % this.every === 0 && this.#free.length > 0;
  }

  /**
   * Encodes `dispatches` ({label, ...}) each in its own timed pass, run(pass, d) recording one, then the
   * copy of their timestamps; call collect() once the command buffer is submitted.
   */
  encode(enc, dispatches, run) {
    dispatches.forEach((d, k) => {
      const pass = enc.beginComputePass({ timestampWrites: { querySet: this.#querySet, beginningOfPassWriteIndex: 2 * k, endOfPassWriteIndex: 2 * k + 1 } });
      run(pass, d);
      pass.end();
    });
    const read = this.#free.pop();
    enc.resolveQuerySet(this.#querySet, 0, 2 * dispatches.length, this.#resolved, 0);
    enc.copyBufferToBuffer(this.#resolved, 0, read, 0, 16 * dispatches.length);
    this.#pending = { read, labels: dispatches.map((d) => d.label) };
  }

  /** Reads the timestamps of the call just submitted, in the background. */
  collect() {
    const { read, labels } = this.#pending;
    this.#pending = null;
    read.mapAsync(GPUMapMode.READ).then(() => {
      const t = new BigUint64Array(read.getMappedRange(0, 16 * labels.length));
      const seen = {};
      labels.forEach((label, k) => {
        const kind = dispatchKind(label);
        const entry = (this.kinds[kind] ??= { us: 0, dispatches: 0 });
        // A pass whose end precedes its start (a reset counter) counts as nothing.
        entry.us += t[2 * k + 1] > t[2 * k] ? Number(t[2 * k + 1] - t[2 * k]) / 1000 : 0;
        seen[kind] = (seen[kind] ?? 0) + 1;
      });
      for (const [kind, n] of Object.entries(seen)) this.kinds[kind].dispatches = n;
      this.steps++;
      read.unmap();
      this.#free.push(read);
    }, () => {});  // a lost device: the figures stop
  }

  /** {source, steps, step_us, kinds: {kind: {us_per_step, dispatches}}}: the mean of the timed calls. */
  summary() {
    const kinds = {};
    let total = 0;
    for (const [kind, { us, dispatches }] of Object.entries(this.kinds)) {
      const perStep = this.steps ? us / this.steps : 0;
      kinds[kind] = { us_per_step: perStep, dispatches };
      total += perStep;
    }
    return { source: 'timestamp-query', every: this.every, steps: this.steps, step_us: total, kinds };
  }

  /** The GPU buffers the timer holds (destroyed by destroy()). */
  get buffers() {
    return [this.#resolved, ...this.#reads];
  }

  destroy() {
    this.#querySet.destroy();
    for (const b of this.buffers) b.destroy();
  }
}
