import { useId, useState } from 'react';
import type { RevisionLiveView } from '../../api/contract/index.js';
import { formatPercent, formatRps } from '../format.js';

/**
 * The canary's weight by hand: the slider moves a pending value only; "Set weight to N%" sends it,
 * "Reset" returns to the weight in force. Beside it, the split the router really served.
 */
export function WeightSlider(props: { weight: number; revisions: readonly RevisionLiveView[]; busy: boolean; onSet: (percent: number) => void }) {
  const [pending, setPending] = useState<number | undefined>(undefined);
  const id = useId();
  const value = pending ?? Math.round(props.weight);
  const changed = value !== Math.round(props.weight);
  return (
    <div className="slider-box">
      <div className="slider-row">
        <label htmlFor={id}>Canary weight</label>
        <output htmlFor={id} className="slider-value">{value}%</output>
      </div>
      <input
        id={id}
        type="range"
        min={0}
        max={100}
        step={1}
        value={value}
        aria-valuenow={value}
        aria-valuetext={`${value}% to the canary`}
        onChange={(e) => setPending(Number(e.target.value))}
      />
      <div className="slider-row">
        <span className="muted">in force {formatPercent(props.weight)}</span>
        <span className="slider-buttons">
          <button type="button" className="btn" disabled={!changed || props.busy} onClick={() => setPending(undefined)}>Reset</button>
          <button type="button" className="btn btn-primary" disabled={!changed || props.busy} onClick={() => { props.onSet(value); setPending(undefined); }}>
            Set weight to {value}%
          </button>
        </span>
      </div>
      <RealizedSplit revisions={props.revisions} />
    </div>
  );
}

/** The canary's measured share of requests over the router's last 10 s. */
export function RealizedSplit(props: { revisions: readonly RevisionLiveView[] }) {
  const total = props.revisions.reduce((n, r) => n + r.requestsPerSecond, 0);
  const canary = props.revisions.filter((r) => r.role === 'canary' || r.role === 'preview').reduce((n, r) => n + r.requestsPerSecond, 0);
  const text = total > 0 ? `canary ${formatPercent((canary / total) * 100)} of ${formatRps(total)} req/s` : 'no requests in the last 10 s';
  return <output className="realized" aria-label="Realized split">{text}</output>;
}
