// A stream whose chunks arrive as messages (from a worker, a Service Worker, a host page): the receiver
// pushes them, the caller reads them as an async generator. The first message (a chunk, the end or an
// error) settles `started`, so a request refused before its first chunk rejects create() itself.

/**
 * @param {{onCancel?: () => void, onFinish?: () => void}} [hooks] onCancel: the reader stopped before the
 *   end (break, return, throw), so the sender should stop; onFinish: the reader is done, either way
 */
export function messageStream({ onCancel, onFinish } = {}) {
  const queue = [];
  let wake = null;
  let finished = false;
  let failure = null;
  let first;
  const started = new Promise((resolve, reject) => { first = { resolve, reject }; });
  started.catch(() => {});  // a failure is also thrown to whoever awaits it
  const notify = () => {
    first.resolve();
    wake?.();
    wake = null;
  };
  return {
    started,
    push(chunk) {
      queue.push(chunk);
      notify();
    },
    end() {
      finished = true;
      notify();
    },
    fail(error) {
      failure = error;
      finished = true;
      first.reject(error);
      wake?.();
      wake = null;
    },
    async *read() {
      try {
        for (;;) {
          if (queue.length) {
            yield queue.shift();
            continue;
          }
          if (failure) throw failure;
          if (finished) return;
          await new Promise((resolve) => { wake = resolve; });
        }
      } finally {
        onFinish?.();
        if (!finished) onCancel?.();
      }
    },
  };
}
