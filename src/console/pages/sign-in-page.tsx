import { useState, type FormEvent } from 'react';
import { messageOf } from '../api.js';

/** The sign-in form: the daemon's token (or the dashboard's code) for a session cookie. */
export function SignInPage(props: { notice: string | undefined; signIn: (token: string) => Promise<void> }) {
  const [token, setToken] = useState('');
  const [error, setError] = useState<string | undefined>(undefined);
  const [busy, setBusy] = useState(false);

  const submit = (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    props.signIn(token).catch((err: unknown) => {
      setError(messageOf(err));
      setBusy(false);
    });
  };

  return (
    <main className="sign-in" id="main">
      <form className="card sign-in-card" onSubmit={submit}>
        <div className="brand brand-large"><span className="brand-mark" aria-hidden="true" />graylane</div>
        <h1>Sign in to the console</h1>
        <p className="muted">Paste the token of <code>graylane up</code> (in its state directory) or the code <code>graylane dashboard</code> printed.</p>
        {props.notice && !error && <p className="notice" role="alert">{props.notice}</p>}
        {error && <p className="error" role="alert">{error}</p>}
        <label htmlFor="token">Token</label>
        <input id="token" name="token" type="password" autoComplete="off" required value={token} onChange={(e) => setToken(e.target.value)} autoFocus />
        <button type="submit" className="btn btn-primary" disabled={busy || token === ''}>Sign in</button>
      </form>
    </main>
  );
}
