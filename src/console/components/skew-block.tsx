import { useEffect, useState } from 'react';
import type { ServiceView } from '../../api/contract/index.js';
import { formatClock, formatDuration } from '../format.js';

/**
 * A release's skew figures: the skew errors the router caught lately (emphasised when there are
 * any: pinning should have prevented each) and, once promoted, until when pages loaded from the
 * old version stay on it, counting down each second. Nothing when the view has neither (a cluster).
 */
export function SkewBlock({ view }: { view: Pick<ServiceView, 'releaseTraffic' | 'skewWindowEndsAtMs'> }) {
  const traffic = view.releaseTraffic;
  const endsAtMs = view.skewWindowEndsAtMs;
  if (traffic?.skewErrors === undefined && endsAtMs === undefined) return null;
  return (
    <section className="card" aria-labelledby="skew-title">
      <h2 id="skew-title">Skew</h2>
      {traffic?.skewErrors !== undefined && (
        <p aria-label="Skew errors caught">
          <strong className={traffic.skewErrors > 0 ? 'bad' : undefined}>{traffic.skewErrors.toLocaleString('en-US')}</strong>
          {` skew ${traffic.skewErrors === 1 ? 'error' : 'errors'} caught in the last ${formatDuration(traffic.windowMs)}`}
          <span className="muted small"> (a page of one version asking the other for an asset: pinning should prevent each)</span>
        </p>
      )}
      {endsAtMs === undefined ? <p className="muted small">No skew window running: it starts when the release is promoted.</p> : <SkewWindow endsAtMs={endsAtMs} />}
    </section>
  );
}

/** "Old pages stay on stable until 12:04:31 (in 2m 10s)", the countdown moving each second. */
function SkewWindow({ endsAtMs }: { endsAtMs: number }) {
  const [nowMs, setNowMs] = useState(() => Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNowMs(Date.now()), 1_000);
    return () => clearInterval(timer);
  }, []);
  const leftS = Math.ceil((endsAtMs - nowMs) / 1_000);
  return (
    <p aria-label="Skew window">
      {leftS > 0
        ? `Old pages stay on stable until ${formatClock(endsAtMs)} (in ${formatDuration(leftS * 1_000)}).`
        : `The skew window ended at ${formatClock(endsAtMs)}: old revisions are being retired.`}
    </p>
  );
}
