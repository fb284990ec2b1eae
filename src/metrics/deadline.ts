/**
 * One AbortSignal for "the caller gave up or the timeout passed", remembering which, so a
 * provider can report `aborted` and `timeout` apart.
 */
import { ProviderError } from './provider.js';

/** A combined signal and how to classify its abort. */
export interface Deadline {
  /** Aborts on the caller's signal or after the timeout. */
  signal: AbortSignal;
  /** Turns whatever was thrown after an abort into the right ProviderError; other errors pass through `fallback`. */
  classify(err: unknown, fallback: (err: unknown) => ProviderError): ProviderError;
  /** Stops the timer. */
  dispose(): void;
}

/** Starts a deadline of `timeoutMs` tied to `parent`. */
export function startDeadline(parent: AbortSignal, timeoutMs: number, providerType: string): Deadline {
  const controller = new AbortController();
  let timedOut = false;
  const onAbort = () => controller.abort(parent.reason);
  if (parent.aborted) controller.abort(parent.reason);
  else parent.addEventListener('abort', onAbort, { once: true });
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort(new Error('timeout'));
  }, timeoutMs);
  timer.unref();
  return {
    signal: controller.signal,
    classify(err, fallback) {
      if (err instanceof ProviderError) return err;
      if (timedOut) return new ProviderError('timeout', providerType, `no answer within ${timeoutMs} ms`, { cause: err });
      if (parent.aborted) return new ProviderError('aborted', providerType, 'measurement aborted', { cause: err });
      return fallback(err);
    },
    dispose() {
      clearTimeout(timer);
      parent.removeEventListener('abort', onAbort);
    },
  };
}

/** Throws `aborted` at once when the caller already gave up. */
export function throwIfAborted(signal: AbortSignal, providerType: string): void {
  if (signal.aborted) throw new ProviderError('aborted', providerType, 'measurement aborted before it started');
}

/** Classifies a network error from undici/node: refused, reset, DNS → unreachable. */
export function networkError(providerType: string, target: string) {
  return (err: unknown): ProviderError => {
    const code = (err as { code?: string; cause?: { code?: string } }).code ?? (err as { cause?: { code?: string } }).cause?.code;
    return new ProviderError('unreachable', providerType, `cannot reach ${target}${code ? ` (${code})` : ''}: ${(err as Error).message}`, { cause: err });
  };
}

/** Settles with `work`, or rejects with `aborted` as soon as `signal` fires. */
export function raceAbort<T>(work: Promise<T>, signal: AbortSignal, providerType: string): Promise<T> {
  throwIfAborted(signal, providerType);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new ProviderError('aborted', providerType, 'measurement aborted'));
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      (v) => { signal.removeEventListener('abort', onAbort); resolve(v); },
      (e: unknown) => { signal.removeEventListener('abort', onAbort); reject(e instanceof Error ? e : new Error(String(e))); },
    );
  });
}
