// Server-sent events as the tests read them: the JSON of each `data:` event, the errors (`event: error`),
// and whether [DONE] came.
export function parseSse(text) {
  const out = { chunks: [], errors: [], done: false };
  for (const block of text.split('\n\n')) {
    if (!block.trim()) continue;
    const lines = block.split('\n');
    const data = lines.filter((l) => l.startsWith('data: ')).map((l) => l.slice(6)).join('\n');
    if (lines.includes('event: error')) out.errors.push(JSON.parse(data));
    else if (data === '[DONE]') out.done = true;
    else out.chunks.push(JSON.parse(data));
  }
  return out;
}
