import { useConsole } from '../console-context.js';
import { Link } from './link.js';

/** The bar above every signed-in page: home, where the rollouts run, whether it is live, sign-out. */
export function AppHeader(props: { onSignOut: () => Promise<void> }) {
  const { session, liveState } = useConsole();
  return (
    <header className="app-header">
      <a className="skip" href="#main">Skip to content</a>
      <Link to="/" className="brand"><span className="brand-mark" aria-hidden="true" />graylane</Link>
      <span className="header-meta">
        <span className="tag">{session.place === 'kubernetes' ? 'Kubernetes' : 'single host'}</span>
        <span className={`live live-${liveState}`}>{liveState === 'live' ? 'live' : liveState === 'connecting' ? 'connecting…' : 'reconnecting…'}</span>
        <span className="muted version">v{session.version}</span>
      </span>
      <button type="button" className="btn btn-quiet" onClick={() => void props.onSignOut()}>Sign out</button>
    </header>
  );
}
