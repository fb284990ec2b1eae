import { useId, useState, type FormEvent } from 'react';
import type { RouteView } from '../../api/contract/index.js';
import { RouteList } from './header-route-editor.js';

/** The canary's mirror routes: a copy of a share of the requests (optionally under a path) goes to the canary. */
export function MirrorEditor(props: { routes: readonly RouteView[]; busy: boolean; onSet: (route: { name: string; percentage?: number; match?: { path: { prefix: string } }[] }) => void }) {
  const [name, setName] = useState('');
  const [percent, setPercent] = useState('10');
  const [prefix, setPrefix] = useState('');
  const id = useId();
  const titleId = `${id}-title`;
  const submit = (e: FormEvent) => {
    e.preventDefault();
    props.onSet({ name, percentage: Number(percent), ...(prefix.trim() ? { match: [{ path: { prefix: prefix.trim() } }] } : {}) });
    setName('');
    setPrefix('');
  };
  return (
    <form className="card editor" aria-labelledby={titleId} onSubmit={submit}>
      <h3 id={titleId}>Mirror route</h3>
      <p className="muted small">A copy goes to the canary; its answers are dropped.</p>
      <RouteList routes={props.routes.filter((r) => r.kind === 'mirror')} busy={props.busy} onRemove={(n) => props.onSet({ name: n })} />
      <div className="field-grid">
        <label htmlFor={`${id}-name`}>Route name</label>
        <input id={`${id}-name`} required value={name} onChange={(e) => setName(e.target.value)} autoComplete="off" />
        <label htmlFor={`${id}-percent`}>Percent</label>
        <input id={`${id}-percent`} type="number" min={0} max={100} step={1} required value={percent} onChange={(e) => setPercent(e.target.value)} />
        <label htmlFor={`${id}-prefix`}>Path prefix</label>
        <input id={`${id}-prefix`} value={prefix} onChange={(e) => setPrefix(e.target.value)} autoComplete="off" placeholder="optional, e.g. /api" />
      </div>
      <button type="submit" className="btn" disabled={props.busy}>Add mirror route</button>
    </form>
  );
}
