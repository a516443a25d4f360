// An async iterator run from now on, whether or not anyone reads it yet: its values wait in a buffer for
// the reader. A streamed request is one: it takes its place in the engine's queue when it is created and
// runs in its turn, so a request made after it never overtakes it, and an unread stream cannot hold the
// queue forever.

/**
 * @template T
 * @param {AsyncIterator<T>} source started at once
 * @param {() => void} onCancel called when the reader stops early (break, return, throw), to end the source soon
 * @returns {AsyncGenerator<T>}
 */
export function eagerStream(source, onCancel) {
  const buffer = [];
  let finished = false;
  let failure = null;
  let wake = null;
  const notify = () => {
    wake?.();
    wake = null;
  };
  (async () => {
    try {
      for (;;) {
        const { value, done } = await source.next();
        if (done) break;
        buffer.push(value);
        notify();
      }
    } catch (error) {
      failure = error;  // handed to the reader; held, not thrown, while nobody reads
    } finally {
      finished = true;
      notify();
    }
  })();
  return (async function* read() {
    let complete = false;
    try {
      for (;;) {
        if (buffer.length) {
          yield buffer.shift();
          continue;
        }
        if (failure) throw failure;
        if (finished) {
          complete = true;
          return;
        }
        await new Promise((resolve) => { wake = resolve; });
      }
    } finally {
      if (!complete && !finished) onCancel();
      buffer.length = 0;
    }
  })();
}
