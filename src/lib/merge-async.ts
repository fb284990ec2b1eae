/**
 * Merges async iterables into one that yields each value as soon as its source has it, keeping
 * the order within every source. The first source to fail fails the merge; when the merge ends
 * early (the consumer stops, or a source failed) the other sources are told to stop.
 */
export async function* mergeAsync<T>(sources: AsyncIterable<T>[]): AsyncGenerator<T> {
  const iterators = sources.map((s) => s[Symbol.asyncIterator]());
  const pending = new Map<number, Promise<{ index: number; result: IteratorResult<T> }>>();
  const pull = (index: number) => pending.set(index, iterators[index]!.next().then((result) => ({ index, result })));
  iterators.forEach((_, index) => pull(index));
  try {
    while (pending.size > 0) {
      const { index, result } = await Promise.race(pending.values());
      if (result.done) {
        pending.delete(index);
        continue;
      }
      pull(index);
      yield result.value;
    }
  } finally {
    // Not awaited: a source blocked in a follow ends when its own signal aborts, not before.
    for (const index of pending.keys()) void iterators[index]!.return?.().catch(() => undefined);
  }
}
