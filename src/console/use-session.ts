/**
 * The console's session: asked of the server on load (the id is an HttpOnly cookie the page never
 * sees), set by signing in, dropped on sign-out or on any 401 with a sentence for the sign-in page.
 */
import { useCallback, useEffect, useState } from 'react';
import type { SessionView } from '../api/contract/console.js';
import { client, isSessionEnded, messageOf, SESSION_ENDED, setCsrfToken } from './api.js';

/** The session's state: being asked, signed in, or signed out (with why, when it ended). */
export type SessionState =
  | { state: 'checking' }
  | { state: 'signed-in'; session: SessionView }
  | { state: 'signed-out'; notice?: string };

/** The session and what changes it. */
export interface UseSession {
  /** Where the session is. */
  current: SessionState;
  /** Signs in with a token; the API's refusal comes back as an error. */
  signIn: (token: string) => Promise<void>;
  /** Ends the session on the server, then here. */
  signOut: () => Promise<void>;
  /** The session ended (a 401 somewhere): back to sign-in with a sentence saying so. */
  ended: () => void;
  /** Asks the server whether the session still holds (after the live stream broke). */
  recheck: () => void;
}

/** See {@link UseSession}. */
export function useSession(): UseSession {
  const [current, setCurrent] = useState<SessionState>({ state: 'checking' });

  const adopt = useCallback((session: SessionView) => {
    setCsrfToken(session.csrfToken);
    setCurrent({ state: 'signed-in', session });
  }, []);
  const ended = useCallback(() => {
    setCsrfToken(undefined);
    setCurrent({ state: 'signed-out', notice: SESSION_ENDED });
  }, []);

  useEffect(() => {
    let live = true;
    client.session().then(
      (s) => { if (live) adopt(s); },
      (err: unknown) => {
        if (!live) return;
        setCsrfToken(undefined);
        setCurrent(isSessionEnded(err) ? { state: 'signed-out' } : { state: 'signed-out', notice: messageOf(err) });
      },
    );
    return () => { live = false; };
  }, [adopt]);

  const signIn = useCallback(async (token: string) => {
    adopt(await client.signIn(token));
  }, [adopt]);
  const signOut = useCallback(async () => {
    try {
      await client.signOut();
    } finally {
      setCsrfToken(undefined);
      setCurrent({ state: 'signed-out' });
    }
  }, []);
  const recheck = useCallback(() => {
    client.session().then(() => undefined, (err: unknown) => { if (isSessionEnded(err)) ended(); });
  }, [ended]);

  return { current, signIn, signOut, ended, recheck };
}
