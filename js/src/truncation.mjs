// OpenAI's truncation "auto" for chats: whole turns leave the prompt, the oldest first, until it fits the
// context with room for the reply. A turn is a user message and the messages after it up to the next user
// message (replies, tool results); system messages belong to no turn and always stay, and so does the last
// turn, the one being answered. (A plain completion prompt is cut by the core: BOS and its end.)

/**
 * The tokens a prompt leaves for the reply under truncation "auto": max_tokens, at most a quarter of the
 * context (the same room the core leaves when it cuts a completion prompt: GenerateRequest::truncate_prompt).
 */
export function replyRoom(contextSize, maxTokens) {
  return Math.max(1, Math.min(maxTokens ?? Infinity, Math.floor(contextSize / 4)));
}

// Index of the first message of each turn (the first non-system message starts one even if not a user's).
function turnStarts(messages) {
  const starts = [];
  messages.forEach((m, i) => {
    if (m.role !== 'system' && (m.role === 'user' || starts.length === 0)) starts.push(i);
  });
  return starts;
}

/** How many turns may be dropped: all but the last. */
export function droppableTurns(messages) {
  return Math.max(0, turnStarts(messages).length - 1);
}

/** The messages without their `count` oldest turns (system messages stay where they are). */
export function withoutOldestTurns(messages, count) {
  const starts = turnStarts(messages);
  const from = count < starts.length ? starts[count] : messages.length;
  return messages.filter((m, i) => m.role === 'system' || i >= from);
}

/**
 * The fewest of `max` oldest turns to drop for `fits(count)` to hold, by binary search (a chat with fewer
 * turns never has more tokens); null when even dropping all `max` does not do.
 */
export function fewestTurnsToDrop(max, fits) {
  let best = null;
  for (let low = 1, high = max; low <= high;) {
    const mid = (low + high) >> 1;
    if (fits(mid)) {
      best = mid;
      high = mid - 1;
    } else low = mid + 1;
  }
  return best;
}
