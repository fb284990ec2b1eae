import { formatDurationMs, parseDurationMs } from '../lib/duration.js';
import type { CanaryStep, StringMatch } from '../documents/schema.js';

const match = (m: StringMatch | undefined): string => {
  if (!m) return '*';
  if (m.exact !== undefined) return `=${m.exact}`;
  if (m.prefix !== undefined) return `^=${m.prefix}`;
  return `~${m.regex ?? ''}`;
};

/**
 * A weight for people: `20%` on the percent scale, `200/1000 (20%)` on another
 * (`trafficRouting.maxTrafficWeight`), so that neither reads as the other.
 */
export function describeWeight(weight: number, maxWeight = 100): string {
  if (maxWeight === 100) return `${weight}%`;
  return `${weight}/${maxWeight} (${Math.round((weight * 10000) / maxWeight) / 100}%)`;
}

/**
 * One line for people: `set weight 20%`, `pause 30s`, `pause until promoted`, `analysis error-rate`, …
 * `maxWeight` is the scale `setWeight` is on (`trafficRouting.maxTrafficWeight`).
 */
export function describeStep(step: CanaryStep, maxWeight = 100): string {
  if ('setWeight' in step) return `set weight ${describeWeight(step.setWeight, maxWeight)}`;
  if ('pause' in step) {
    const d = step.pause.duration;
    return d === undefined ? 'pause until promoted' : `pause ${formatDurationMs(parseDurationMs(d))}`;
  }
  if ('analysis' in step) return `analysis ${step.analysis.templates.map((t) => t.templateName).join(', ')}`;
  if ('setCanaryScale' in step) {
    const s = step.setCanaryScale;
    if (s.replicas !== undefined) return `canary scale ${s.replicas} instance${s.replicas === 1 ? '' : 's'}`;
    if (s.weight !== undefined) return `canary scale ${s.weight}% of replicas`;
    return 'canary scale matches traffic weight';
  }
  if ('setHeaderRoute' in step) {
    const r = step.setHeaderRoute;
    if (!r.match?.length) return `remove header route ${r.name}`;
    const parts = r.match.map((m) => (m.cookieName ? `cookie ${m.cookieName}${match(m.cookieValue)}` : `header ${m.headerName ?? ''}${match(m.headerValue)}`));
    return `header route ${r.name}: ${parts.join(' and ')} → canary`;
  }
  const r = step.setMirrorRoute;
  if (!r.match?.length) return `remove mirror route ${r.name}`;
  return `mirror route ${r.name}: ${r.percentage ?? 100}% of matching requests copied to canary`;
}
