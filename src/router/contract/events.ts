/**
 * What the data plane tells its control plane on its own: ejections, readmissions and drains.
 */

/** Kinds of {@link RouterEvent}. */
export type RouterEventType =
  | 'instance-ejected'
  | 'instance-readmitted'
  | 'instance-draining'
  | 'instance-drained'
  | 'instance-drain-timeout';

/** Something an operator would want to see in an event log. */
export interface RouterEvent {
  /** What happened. */
  type: RouterEventType;
  /** Service of the instance (as of the latest table naming it). */
  service: string;
  /** Revision of the instance. */
  revision: string;
  /** Instance id. */
  instance: string;
  /** Instance address. */
  address: string;
  /** Wall-clock time, ms since the epoch. */
  atMs: number;
  /** Why, for ejections. */
  reason?: string;
  /** How long the instance stays out, for ejections. */
  ejectionMs?: number;
  /** Requests or streams cut at the deadline, for drain timeouts. */
  abandoned?: number;
}
