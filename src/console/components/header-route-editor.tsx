import { useId, useState, type FormEvent } from 'react';
import type { RouteView } from '../../api/contract/index.js';
import type { HeaderMatch } from '../route-operations.js';

/** The canary's header routes: those in force, each removable, and a form to add one (exact header or cookie match). */
export function HeaderRouteEditor(props: { routes: readonly RouteView[]; busy: boolean; onSet: (route: { name: string; match?: HeaderMatch[] }) => void }) {
  const [name, setName] = useState('');
  const [on, setOn] = useState<'header' | 'cookie'>('header');
  const [key, setKey] = useState('');
  const [value, setValue] = useState('');
  const id = useId();
  const titleId = `${id}-title`;
  const submit = (e: FormEvent) => {
    e.preventDefault();
    const match: HeaderMatch = on === 'header' ? { headerName: key, headerValue: { exact: value } } : { cookieName: key, cookieValue: { exact: value } };
    props.onSet({ name, match: [match] });
    setName('');
    setKey('');
    setValue('');
  };
  const routes = props.routes.filter((r) => r.kind === 'header');
  return (
    <form className="card editor" aria-labelledby={titleId} onSubmit={submit}>
      <h3 id={titleId}>Header route</h3>
      <p className="muted small">Requests that match go to the canary, whatever the weight.</p>
      <RouteList routes={routes} busy={props.busy} onRemove={(n) => props.onSet({ name: n })} />
      <div className="field-grid">
        <label htmlFor={`${id}-name`}>Route name</label>
        <input id={`${id}-name`} required value={name} onChange={(e) => setName(e.target.value)} autoComplete="off" />
        <label htmlFor={`${id}-on`}>Match on</label>
        <select id={`${id}-on`} value={on} onChange={(e) => setOn(e.target.value === 'cookie' ? 'cookie' : 'header')}>
          <option value="header">header</option>
          <option value="cookie">cookie</option>
        </select>
        <label htmlFor={`${id}-key`}>Name</label>
        <input id={`${id}-key`} required value={key} onChange={(e) => setKey(e.target.value)} autoComplete="off" placeholder={on === 'header' ? 'x-beta' : 'beta'} />
        <label htmlFor={`${id}-value`}>Value</label>
        <input id={`${id}-value`} required value={value} onChange={(e) => setValue(e.target.value)} autoComplete="off" placeholder="exact value" />
      </div>
      <button type="submit" className="btn" disabled={props.busy}>Add header route</button>
    </form>
  );
}

/** The routes in force, each with its "Remove route <name>" button. */
export function RouteList(props: { routes: readonly RouteView[]; busy: boolean; onRemove: (name: string) => void }) {
  if (props.routes.length === 0) return <p className="muted small">None in force.</p>;
  return (
    <ul className="route-list">
      {props.routes.map((r) => (
        <li key={r.name}>
          <span>{r.description}</span>
          <button type="button" className="btn btn-small" disabled={props.busy} onClick={() => props.onRemove(r.name)}>Remove route {r.name}</button>
        </li>
      ))}
    </ul>
  );
}
