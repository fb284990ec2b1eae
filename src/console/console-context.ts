/** What every page of a signed-in console shares: the session, the live feed, and the 401 rule. */
import { createContext, useContext } from 'react';
import type { SessionView } from '../api/contract/console.js';
import type { LiveFeed, LiveState } from './use-live-views.js';

/** The signed-in console's shared parts. */
export interface ConsoleContextValue {
  /** The session as the server sees it. */
  session: SessionView;
  /** The live stream of statuses and events. */
  feed: LiveFeed;
  /** Whether the stream is connected. */
  liveState: LiveState;
  /**
   * Turns a failed request into the sentence to show, or sends the user to sign-in (and returns
   * undefined) when it was a 401.
   */
  fail: (err: unknown) => string | undefined;
}

/** See {@link ConsoleContextValue}. */
export const ConsoleContext = createContext<ConsoleContextValue | null>(null);

/** The console's shared parts; only under a signed-in shell. */
export function useConsole(): ConsoleContextValue {
  const value = useContext(ConsoleContext);
  if (!value) throw new Error('useConsole outside the signed-in console');
  return value;
}
