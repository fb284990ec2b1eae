/**
 * Delivers notifications to receivers off the controller's path: `notify` only queues, one queue
 * per receiver, delivered in order (started before step before completed), each attempt bounded by
 * the receiver's timeout, failed attempts retried with exponential back-off (or after the
 * receiver's Retry-After, capped). What is still undelivered after the retries is logged and
 * counted, and the queue goes on; a queue that grows past its bound (a receiver down for long)
 * drops its oldest, counted too. Nothing here ever awaits on the controller's behalf.
 */
import { retryAfterMsOf } from '../lib/retry-after.js';
import type { Notification } from './notification.js';
import { accepts, type ConfiguredReceiver } from './registry.js';

/** A log line's level. */
export type NotifierLogLevel = 'info' | 'warn';

/** Options of {@link Notifier}. */
export interface NotifierOptions {
  /** The receivers now (read at each notification: configuration may change while running). */
  receivers: () => readonly ConfiguredReceiver[];
  /** Where undelivered notifications are said; messages name receivers, never URLs. */
  log: (level: NotifierLogLevel, message: string, fields: Readonly<Record<string, string | number>>) => void;
  /** First retry's delay; doubles per attempt (default 1 s). */
  backoffBaseMs?: number;
  /** Longest back-off (default 30 s). */
  backoffMaxMs?: number;
  /** Notifications waiting per receiver before the oldest is dropped (default 1000). */
  maxQueued?: number;
}

/** Per receiver: what became of its notifications. */
export interface ReceiverFigures {
  /** Accepted by the receiver. */
  delivered: number;
  /** Given up on after the retries (or refused for good: a 4xx other than 429). */
  failed: number;
  /** Dropped unsent because the queue was full. */
  dropped: number;
  /** Attempts that failed and were retried. */
  retried: number;
}

interface Queue {
  items: { n: Notification; to: ConfiguredReceiver }[];
  running: boolean;
}

/** See the file comment. */
export class Notifier {
  private readonly queues = new Map<string, Queue>();
  private readonly counts = new Map<string, ReceiverFigures>();
  private readonly closing = new AbortController();
  private readonly running = new Set<Promise<void>>();

  constructor(private readonly options: NotifierOptions) {}

  /** Queues `n` for every receiver whose filter takes it; returns at once. */
  notify(n: Notification): void {
    if (this.closing.signal.aborted) return;
    for (const to of this.options.receivers()) {
      if (!accepts(to.filter, n)) continue;
      const name = to.receiver.name;
      let q = this.queues.get(name);
      if (!q) this.queues.set(name, (q = { items: [], running: false }));
      q.items.push({ n, to });
      if (q.items.length > (this.options.maxQueued ?? 1000)) {
        const lost = q.items.shift()!;
        this.figuresOf(name).dropped++;
        this.options.log('warn', 'notification dropped: the receiver is behind', { receiver: name, transition: lost.n.transition, subject: `${lost.n.namespace}/${lost.n.name}` });
      }
      if (!q.running) this.drain(name, q);
    }
  }

  /** Counts per receiver name. */
  figures(): ReadonlyMap<string, Readonly<ReceiverFigures>> {
    return this.counts;
  }

  /** Resolves once every queue is empty (tests; a graceful stop). */
  async settled(): Promise<void> {
    while (this.running.size > 0) await Promise.all([...this.running]);
  }

  /** Stops: waits no more (retries end at once), drops what is queued. Idempotent. */
  async close(): Promise<void> {
    this.closing.abort();
    await this.settled();
  }

  private drain(name: string, q: Queue): void {
    q.running = true;
    const run = (async () => {
      while (q.items.length > 0 && !this.closing.signal.aborted) {
        const { n, to } = q.items.shift()!;
        await this.deliver(n, to);
      }
      q.running = false;
    })();
    this.running.add(run);
    void run.finally(() => this.running.delete(run));
  }

  private async deliver(n: Notification, to: ConfiguredReceiver): Promise<void> {
    const name = to.receiver.name;
    const figures = this.figuresOf(name);
    for (let attempt = 0; ; attempt++) {
      const signal = AbortSignal.any([AbortSignal.timeout(to.timeoutMs), this.closing.signal]);
      try {
        await to.receiver.send(n, { signal });
        figures.delivered++;
        return;
      } catch (err) {
        const error = err as Error & { code?: string; status?: number };
        // A refusal (400, 401, 404…) will be refused again; 408 and 429 are worth another try.
        const final = error.code === 'NotificationConfig' || (error.status !== undefined && error.status < 500 && error.status !== 408 && error.status !== 429);
        if (final || attempt >= to.retries || this.closing.signal.aborted) {
          figures.failed++;
          this.options.log('warn', 'notification not delivered', { receiver: name, type: to.receiver.type, transition: n.transition, subject: `${n.namespace}/${n.name}`, attempts: attempt + 1, error: error.message });
          return;
        }
        figures.retried++;
        const backoff = Math.min(this.options.backoffMaxMs ?? 30_000, (this.options.backoffBaseMs ?? 1_000) * 2 ** attempt);
        await sleep(retryAfterMsOf(err) ?? backoff, this.closing.signal);
      }
    }
  }

  private figuresOf(name: string): ReceiverFigures {
    let f = this.counts.get(name);
    if (!f) this.counts.set(name, (f = { delivered: 0, failed: 0, dropped: 0, retried: 0 }));
    return f;
  }
}

/** Waits `ms`, or less when `signal` aborts; never rejects. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    timer.unref();
    signal.addEventListener('abort', done);
  });
}
