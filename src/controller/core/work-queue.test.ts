import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { queueKey, WorkQueue, WorkQueueClosedError, type WorkQueueOptions } from './work-queue.js';

/** A handler whose calls are recorded and finished by hand (or fail when told to). */
class Handler {
  readonly log: string[] = [];
  private readonly open = new Map<string, { resolve: () => void; reject: (e: Error) => void }[]>();
  failNext = new Map<string, number>();

  readonly fn = (key: string): Promise<void> => {
    this.log.push(`start ${key}`);
    return new Promise<void>((resolve, reject) => {
      const line = this.open.get(key) ?? [];
      line.push({ resolve: () => { this.log.push(`end ${key}`); resolve(); }, reject });
      this.open.set(key, line);
    });
  };

  /** Finishes the oldest running call of `key`, successfully or with an error. */
  async finish(key: string, error?: Error): Promise<void> {
    const call = this.open.get(key)?.shift();
    if (!call) throw new Error(`${key} is not running`);
    if (error) {
      this.log.push(`fail ${key}`);
      call.reject(error);
    } else call.resolve();
    await flush();
  }

  running(): string[] {
    return [...this.open].flatMap(([k, calls]) => calls.map(() => k));
  }
}

/** An error as an adapter surfaces a server's Retry-After. */
const throttled = (retryAfterMs: number): Error => Object.assign(new Error(`throttled for ${retryAfterMs} ms`), { retryAfterMs });

const flush = async () => {
  for (let i = 0; i < 10; i++) await Promise.resolve();
};

const fakeTimers = { setTimeout: (fn: () => void, ms: number) => setTimeout(fn, ms), clearTimeout: (h: unknown) => clearTimeout(h as NodeJS.Timeout), nowMs: () => Date.now() };

function setup(options: Partial<WorkQueueOptions> = {}) {
  const handler = new Handler();
  const errors: { key: string; failures: number; retryInMs: number; message: string }[] = [];
  const queue = new WorkQueue({
    handler: handler.fn,
    timers: fakeTimers,
    onError: (f) => errors.push({ key: f.key, failures: f.failures, retryInMs: f.retryInMs, message: (f.error as Error).message }),
    ...options,
  });
  return { handler, queue, errors };
}

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('WorkQueue', () => {
  it('keys objects as namespace/name', () => {
    expect(queueKey({ namespace: 'default', name: 'api' })).toBe('default/api');
  });

  it('runs a key added many times while it waits once', async () => {
    const { handler, queue } = setup({ concurrency: 1 });
    queue.add('default/a');
    queue.add('default/b');
    queue.add('default/b');
    queue.add('default/b');
    expect(queue.length).toBe(1);
    await handler.finish('default/a');
    await handler.finish('default/b');
    expect(handler.log).toEqual(['start default/a', 'end default/a', 'start default/b', 'end default/b']);
    expect(queue.length).toBe(0);
  });

  it('never runs one key on two workers, and runs it again when it was added meanwhile', async () => {
    const { handler, queue } = setup({ concurrency: 4 });
    queue.add('default/a');
    queue.add('default/a');
    queue.add('default/a');
    expect(handler.running()).toEqual(['default/a']);
    await handler.finish('default/a');
    expect(handler.running()).toEqual(['default/a']);
    await handler.finish('default/a');
    expect(handler.log).toEqual(['start default/a', 'end default/a', 'start default/a', 'end default/a']);
    expect(handler.running()).toEqual([]);
  });

  it('tells which keys run now and for how long, longest first, and forgets a key once its pass ends', async () => {
    const { handler, queue } = setup({ concurrency: 2 });
    queue.add('default/a');
    await vi.advanceTimersByTimeAsync(4_000);
    queue.add('default/b');
    await vi.advanceTimersByTimeAsync(1_000);
    expect(queue.running()).toEqual([{ key: 'default/a', forMs: 5_000 }, { key: 'default/b', forMs: 1_000 }]);
    await handler.finish('default/a');
    expect(queue.running()).toEqual([{ key: 'default/b', forMs: 1_000 }]);
    await handler.finish('default/b');
    expect(queue.running()).toEqual([]);
  });

  it('runs different keys in parallel up to the concurrency', async () => {
    const { handler, queue } = setup({ concurrency: 2 });
    for (const k of ['default/a', 'default/b', 'default/c']) queue.add(k);
    expect(handler.running()).toEqual(['default/a', 'default/b']);
    await handler.finish('default/b');
    expect(handler.running()).toEqual(['default/a', 'default/c']);
  });

  it('requeues after a delay, and the earlier of two requeues wins', async () => {
    const { handler, queue } = setup();
    queue.addAfter('default/a', 1000);
    queue.addAfter('default/a', 300);
    queue.addAfter('default/a', 5000);
    await vi.advanceTimersByTimeAsync(299);
    expect(handler.log).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(handler.log).toEqual(['start default/a']);
    await handler.finish('default/a');
    await vi.advanceTimersByTimeAsync(10_000);
    expect(handler.log).toEqual(['start default/a', 'end default/a']);
  });

  it('backs off exponentially up to the cap on errors, reports them, and starts over after a success', async () => {
    const { handler, queue, errors } = setup({ backoff: { baseMs: 100, maxMs: 350 } });
    queue.add('default/a');
    await handler.finish('default/a', new Error('boom 1'));
    await vi.advanceTimersByTimeAsync(99);
    expect(handler.running()).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    await handler.finish('default/a', new Error('boom 2'));
    await vi.advanceTimersByTimeAsync(200);
    await handler.finish('default/a', new Error('boom 3'));
    await vi.advanceTimersByTimeAsync(350);
    expect(queue.failuresOf('default/a')).toBe(3);
    await handler.finish('default/a');
    expect(queue.failuresOf('default/a')).toBe(0);
    queue.add('default/a');
    await handler.finish('default/a', new Error('boom 4'));
    expect(errors).toEqual([
      { key: 'default/a', failures: 1, retryInMs: 100, message: 'boom 1' },
      { key: 'default/a', failures: 2, retryInMs: 200, message: 'boom 2' },
      { key: 'default/a', failures: 3, retryInMs: 350, message: 'boom 3' },
      { key: 'default/a', failures: 1, retryInMs: 100, message: 'boom 4' },
    ]);
  });

  it('waits as long as a failure\'s server asked (retryAfterMs, here on the wrapped cause), not its own shorter back-off', async () => {
    const { handler, queue, errors } = setup({ backoff: { baseMs: 100, maxMs: 30_000 } });
    queue.add('default/a');
    await handler.finish('default/a', new Error('status not written', { cause: throttled(2000) }));
    await vi.advanceTimersByTimeAsync(1999);
    expect(handler.running()).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(handler.running()).toEqual(['default/a']);
    expect(errors).toEqual([{ key: 'default/a', failures: 1, retryInMs: 2000, message: 'status not written' }]);
  });

  it('keeps a key that a server asked to leave alone from running on changes meanwhile, then runs it once', async () => {
    const { handler, queue } = setup();
    queue.add('default/a');
    // A change during the failing run, and more while the server's delay runs.
    queue.add('default/a');
    await handler.finish('default/a', throttled(1000));
    queue.add('default/a');
    await vi.advanceTimersByTimeAsync(500);
    queue.add('default/a');
    queue.add('default/b');
    expect(handler.running()).toEqual(['default/b']);
    await vi.advanceTimersByTimeAsync(499);
    expect(handler.running()).toEqual(['default/b']);
    await vi.advanceTimersByTimeAsync(1);
    expect(handler.running().sort()).toEqual(['default/a', 'default/b']);
    await handler.finish('default/a');
    await vi.advanceTimersByTimeAsync(5000);
    expect(handler.log.filter((l) => l === 'start default/a')).toHaveLength(2);
    // Once the delay is over and the key has run, a change runs it at once again.
    queue.add('default/a');
    expect(handler.running().sort()).toEqual(['default/a', 'default/b']);
  });

  it('takes the larger of its back-off and the server\'s delay, and starts over after a success', async () => {
    const { handler, queue, errors } = setup({ backoff: { baseMs: 100, maxMs: 30_000 } });
    queue.add('default/a');
    for (let i = 1; i <= 5; i += 1) {
      await handler.finish('default/a', new Error(`boom ${i}`));
      await vi.advanceTimersByTimeAsync(100 * 2 ** (i - 1));
    }
    // The sixth failure backs off 3.2 s; the server asks for only 1 s: 3.2 s it is.
    await handler.finish('default/a', Object.assign(new Error('throttled'), { retryAfterMs: 1000 }));
    await vi.advanceTimersByTimeAsync(1000);
    queue.add('default/a');
    await vi.advanceTimersByTimeAsync(2199);
    expect(handler.running()).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(handler.running()).toEqual(['default/a']);
    await handler.finish('default/a');
    expect(queue.failuresOf('default/a')).toBe(0);
    // After the success the back-off starts over: the server's 1 s is now the larger.
    queue.add('default/a');
    await handler.finish('default/a', Object.assign(new Error('throttled again'), { retryAfterMs: 1000 }));
    expect(errors.slice(5)).toEqual([
      { key: 'default/a', failures: 6, retryInMs: 3200, message: 'throttled' },
      { key: 'default/a', failures: 1, retryInMs: 1000, message: 'throttled again' },
    ]);
    await vi.advanceTimersByTimeAsync(999);
    expect(handler.running()).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(handler.running()).toEqual(['default/a']);
  });

  it('retries a failure that names no delay after its back-off, and runs it on a change at once as before', async () => {
    const { handler, queue } = setup();
    queue.add('default/a');
    await handler.finish('default/a', new Error('conflict'));
    queue.add('default/a');
    expect(handler.running()).toEqual(['default/a']);
  });

  it('runs an operation holding the key: after its running work, before its next run', async () => {
    const { handler, queue } = setup();
    queue.add('default/a');
    const op = queue.run('default/a', () => {
      handler.log.push('operation');
      return 7;
    });
    queue.add('default/a');
    await handler.finish('default/a');
    await expect(op).resolves.toBe(7);
    await handler.finish('default/a');
    expect(handler.log).toEqual(['start default/a', 'end default/a', 'operation', 'start default/a', 'end default/a']);
  });

  it('shuts down after the running work, dropping what waits and refusing new work', async () => {
    const { handler, queue } = setup({ concurrency: 1 });
    queue.add('default/a');
    queue.add('default/b');
    queue.addAfter('default/c', 100);
    let done = false;
    const closing = queue.shutdown().then(() => {
      done = true;
    });
    await flush();
    expect(done).toBe(false);
    await handler.finish('default/a');
    await closing;
    expect(done).toBe(true);
    queue.add('default/d');
    await vi.advanceTimersByTimeAsync(1000);
    expect(handler.log).toEqual(['start default/a', 'end default/a']);
    await expect(queue.run('default/a', () => 1)).rejects.toBeInstanceOf(WorkQueueClosedError);
  });
});
