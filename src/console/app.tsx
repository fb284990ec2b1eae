import { useCallback, useEffect, useMemo } from 'react';
import { isSessionEnded, messageOf } from './api.js';
import { ConsoleContext, type ConsoleContextValue } from './console-context.js';
import { AppHeader } from './components/app-header.js';
import { OverviewPage } from './pages/overview-page.js';
import { ReleasePage } from './pages/release-page.js';
import { RolloutPage } from './pages/rollout-page.js';
import { SignInPage } from './pages/sign-in-page.js';
import { navigate, routeOf, usePath } from './router.js';
import { useLiveViews } from './use-live-views.js';
import { useSession } from './use-session.js';

/** The console's shell: sign-in, then the overview or a rollout or release page. */
export function App() {
  const path = usePath();
  const route = routeOf(path);
  const session = useSession();
  const { current, ended, recheck } = session;
  const signedIn = current.state === 'signed-in';
  const { feed, state: liveState } = useLiveViews({ enabled: signedIn, onBroken: recheck });

  // Signed out: the sign-in page, remembering nothing of where the user was (the overview follows).
  useEffect(() => {
    if (current.state === 'signed-out' && route.page !== 'sign-in') navigate('/sign-in', { replace: true });
    if (current.state === 'signed-in' && route.page === 'sign-in') navigate('/', { replace: true });
  }, [current.state, route.page]);

  const fail = useCallback((err: unknown) => {
    if (isSessionEnded(err)) {
      ended();
      return undefined;
    }
    return messageOf(err);
  }, [ended]);

  const value = useMemo<ConsoleContextValue | null>(
    () => (current.state === 'signed-in' ? { session: current.session, feed, liveState, fail } : null),
    [current, feed, liveState, fail],
  );

  if (current.state === 'checking') return <div className="boot" aria-busy="true">Loading…</div>;
  if (!value || route.page === 'sign-in') {
    return <SignInPage notice={current.state === 'signed-out' ? current.notice : undefined} signIn={session.signIn} />;
  }
  return (
    <ConsoleContext.Provider value={value}>
      <AppHeader onSignOut={session.signOut} />
      <main className="page" id="main">
        {route.page === 'overview' && <OverviewPage />}
        {route.page === 'rollout' && <RolloutPage key={route.name} name={route.name} />}
        {route.page === 'release' && <ReleasePage key={route.name} name={route.name} />}
        {route.page === 'not-found' && (
          <section className="empty"><h1>Not found</h1><p>Nothing lives at {route.path}. <a href="/" onClick={(e) => { e.preventDefault(); navigate('/'); }}>Back to the rollouts</a>.</p></section>
        )}
      </main>
    </ConsoleContext.Provider>
  );
}
