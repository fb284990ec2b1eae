import { describe, expect, it } from 'vitest';
import { mergeAsync } from './merge-async.js';

async function* source(name: string, n: number, failAt?: number): AsyncGenerator<string> {
  for (let i = 0; i < n; i++) {
    await new Promise((r) => setImmediate(r));
    if (i === failAt) throw new Error(`${name} broke`);
    yield `${name}${i}`;
  }
}

describe('mergeAsync', () => {
  it('yields every value of every source, in order within each source', async () => {
    const out: string[] = [];
    for await (const v of mergeAsync([source('a', 3), source('b', 2), source('c', 0)])) out.push(v);
    expect(out.filter((v) => v.startsWith('a'))).toEqual(['a0', 'a1', 'a2']);
    expect(out.filter((v) => v.startsWith('b'))).toEqual(['b0', 'b1']);
    expect(out).toHaveLength(5);
  });

  it('fails with the first source that fails, and stops the others', async () => {
    let stopped = false;
    async function* endless(): AsyncGenerator<string> {
      try {
        for (;;) {
          await new Promise((r) => setImmediate(r));
          yield 'x';
        }
      } finally {
        stopped = true;
      }
    }
    const out: string[] = [];
    await expect((async () => {
      for await (const v of mergeAsync([endless(), source('b', 5, 2)])) out.push(v);
    })()).rejects.toThrow('b broke');
    await new Promise((r) => setTimeout(r, 10));
    expect(stopped).toBe(true);
    expect(out).toContain('b1');
  });
});
