/**
 * Kubernetes `MicroTime`: the timestamps of Leases (`renewTime`, `acquireTime`) and
 * `events.k8s.io` Events (`eventTime`). The API server decodes them with a fixed six-digit layout
 * (`2006-01-02T15:04:05.000000Z07:00`) and answers 400 to anything else, while client-node
 * serialises a `Date` with milliseconds: graylane formats these fields itself.
 */
import { KubeError } from './kube-error.js';

/** Why a MicroTime could not be read. */
export type MicroTimeErrorCode = 'invalid-micro-time';

/** A value that is not a timestamp (neither RFC 3339 text nor a valid `Date`). */
export class MicroTimeError extends KubeError<MicroTimeErrorCode> {
  constructor(
    /** The value as received. */
    readonly value: unknown,
  ) {
    super('invalid-micro-time', `not a MicroTime: ${JSON.stringify(value) ?? String(value)}`);
  }
}

/** Exactly what the API server accepts for a MicroTime. */
export const MICRO_TIME_PATTERN = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}(Z|[+-]\d{2}:\d{2})$/;

/** RFC 3339 with any number of fractional digits (what a server or another client may return). */
const rfc3339 = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:\d{2})$/i;

/**
 * `epochMs` as a MicroTime in UTC, six fractional digits (`2026-11-28T13:00:00.123000Z`): a
 * millisecond clock has nothing to say about the last three.
 */
export function formatMicroTime(epochMs: number): string {
  if (!Number.isFinite(epochMs)) throw new MicroTimeError(epochMs);
  return `${new Date(Math.floor(epochMs)).toISOString().slice(0, -1)}000Z`;
}

/**
 * A MicroTime (or any RFC 3339 timestamp) as epoch milliseconds. Accepts a `Date` too, since
 * client-node types these fields as `Date` while handing back the server's text: both happen.
 * Digits past the millisecond are dropped, never rounded up (a renewal never looks later than it was).
 */
export function parseMicroTime(value: string | Date): number {
  if (value instanceof Date) {
    const ms = value.getTime();
    if (Number.isNaN(ms)) throw new MicroTimeError(value);
    return ms;
  }
  const match = typeof value === 'string' ? rfc3339.exec(value) : null;
  if (match === null) throw new MicroTimeError(value);
  const millis = (match[2] ?? '').slice(0, 3).padEnd(3, '0');
  const ms = Date.parse(`${match[1]!}.${millis}${match[3]!.toUpperCase()}`);
  if (Number.isNaN(ms)) throw new MicroTimeError(value);
  return ms;
}
