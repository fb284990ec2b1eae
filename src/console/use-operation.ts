/**
 * Sending an operation from a page: one at a time (buttons disable while it is in flight), with
 * the view's version as expectedVersion, and the API's refusal kept as the sentence to show.
 */
import { useCallback, useState } from 'react';
import type { ServiceView } from '../api/contract/index.js';
import { useConsole } from './console-context.js';

/** The state of a page's operations. */
export interface UseOperation {
  /** An operation is in flight. */
  busy: boolean;
  /** The last refusal's sentence, until the next operation. */
  error: string | undefined;
  /** Runs `send`; its answer (the new view) goes to `onDone`. */
  run: (send: () => Promise<ServiceView>) => Promise<void>;
  /** Forgets the last refusal. */
  clear: () => void;
}

/** See {@link UseOperation}. */
export function useOperation(onDone: (view: ServiceView) => void): UseOperation {
  const { fail } = useConsole();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | undefined>(undefined);
  const run = useCallback(async (send: () => Promise<ServiceView>) => {
    setBusy(true);
    setError(undefined);
    try {
      onDone(await send());
    } catch (err) {
      setError(fail(err));
    } finally {
      setBusy(false);
    }
  }, [fail, onDone]);
  const clear = useCallback(() => setError(undefined), []);
  return { busy, error, run, clear };
}
