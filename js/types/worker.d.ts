// tabllm/worker: the script createWorkerEngine runs in its Web Worker (Node: worker_threads). It exports
// nothing; start it yourself only to pass your own Worker as createWorkerEngine's `worker` option.
export {};
