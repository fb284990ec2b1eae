/**
 * Leader election on a `coordination.k8s.io/v1` Lease, as client-go's `leaderelection` does it
 * (client-node has no helper): of several controller replicas, one acts and the others wait to
 * take over when it stops renewing.
 *
 * Every write is an update carrying the Lease's resourceVersion: a 409 means someone else wrote,
 * so the elector re-reads and decides again, never overwrites. A leader that cannot renew for
 * `renewDeadlineMs` steps down (calls `onStoppedLeading`) before its Lease can expire for
 * anyone else (`leaseDurationMs` > `renewDeadlineMs`): the controller stops acting before
 * another may start.
 */
import {
  ApiException,
  CoordinationV1Api,
  Observable,
  type ConfigurationOptions,
  type KubeConfig,
  type ObservableMiddleware,
  type RequestContext,
  type ResponseContext,
  type V1Lease,
} from '@kubernetes/client-node';
import { MICRO_TIME_PATTERN, formatMicroTime, parseMicroTime } from './micro-time.js';
import { KubeError } from './kube-error.js';
import { FIELD_MANAGER } from './names.js';

/** Options of {@link LeaderElector}. */
export interface LeaderElectorOptions {
  /** Where the Lease lives. */
  kubeConfig: KubeConfig;
  /** Namespace of the Lease. */
  namespace: string;
  /** Name of the Lease. */
  name: string;
  /** This candidate's name, unique among candidates (a pod's name). */
  identity: string;
  /** How long a Lease holds without renewal; a whole number of seconds, as the Lease stores it (default 15000). */
  leaseDurationMs?: number;
  /** How long a leader keeps trying to renew before it steps down; below the lease duration (default 10000). */
  renewDeadlineMs?: number;
  /** Time between two attempts to acquire or renew (default 2000). */
  retryPeriodMs?: number;
  /** The clock written into and compared with the Lease (default `Date.now`). */
  nowMs?: () => number;
  /** Called when this candidate becomes the leader: start acting. */
  onStartedLeading: () => void;
  /** Called when this candidate stops leading (lost, stopped or released): stop acting now. */
  onStoppedLeading: () => void;
  /** Called with the holder's identity whenever a different candidate (or this one) is seen holding the Lease. */
  onNewLeader?: (identity: string) => void;
  /** Called for every failure that does not end the election: failed requests, throwing callbacks. */
  onError?: (error: LeaderElectionError) => void;
}

/** What went wrong. */
export type LeaderElectionErrorCode = 'invalid-options' | 'already-started' | 'request-failed' | 'release-failed' | 'callback-failed';

/** An error of leader election; `code` says which. */
export class LeaderElectionError extends KubeError<LeaderElectionErrorCode> {}

/** Where an elector is: not started, trying to acquire, holding the Lease, or stopped for good. */
export type LeaderElectorState = 'idle' | 'candidate' | 'leading' | 'stopped';

/** Figures for `/metrics`. */
export interface LeaderElectionFigures {
  /** The elector's state. */
  state: LeaderElectorState;
  /** The Lease's `leaseTransitions` as last seen: how many times leadership changed hands. */
  leaseTransitions: number;
  /** How many times this candidate became the leader. */
  acquisitions: number;
  /** How many times this candidate stepped down because renewals failed for `renewDeadlineMs`. */
  lostLeases: number;
  /** Requests to the API server that failed (conflicts excluded: they are re-read, not failures). */
  failedRequests: number;
  /** When this candidate last renewed (epoch ms of the `renewTime` it wrote), if ever. */
  lastRenewMs: number | undefined;
}

/** The fields of a Lease's spec the election reads and writes, times as MicroTime text. */
interface LeaseRecord {
  holderIdentity: string;
  leaseDurationSeconds: number;
  acquireTime: string;
  renewTime: string;
  leaseTransitions: number;
}

const conflict = 409;
const notFound = 404;

function statusOf(error: unknown): number | undefined {
  return error instanceof ApiException ? error.code : undefined;
}

function describe(error: unknown): string {
  if (error instanceof ApiException) {
    const body = error.body as unknown;
    const message = typeof body === 'string' ? (/"message":"((?:[^"\\]|\\.)*)"/.exec(body)?.[1] ?? '') : '';
    return `HTTP ${error.code}${message === '' ? '' : `: ${message}`}`;
  }
  return error instanceof Error ? error.message : String(error);
}

/** A MicroTime as the server sent it (text), or re-formatted when the client handed back a Date. */
function microTimeText(value: unknown, fallbackMs: number): string {
  if (typeof value === 'string' && MICRO_TIME_PATTERN.test(value)) return value;
  try {
    return formatMicroTime(parseMicroTime(value as string | Date));
  } catch {
    return formatMicroTime(fallbackMs);
  }
}

/** Compares records by content: a rewrite of the same record is no sign of life. */
function recordKey(spec: V1Lease['spec']): string {
  return JSON.stringify([spec?.holderIdentity ?? '', String(spec?.renewTime ?? ''), String(spec?.acquireTime ?? ''), spec?.leaseDurationSeconds ?? 0, spec?.leaseTransitions ?? 0]);
}

/**
 * Campaigns for one Lease: acquires it when free or expired, renews it while leading, steps
 * down when renewals fail for `renewDeadlineMs`, and hands it over on a clean stop. After
 * stepping down it keeps campaigning (and may lead again, calling `onStartedLeading` anew); a
 * controller that would rather exit, as Argo Rollouts does, stops it in `onStoppedLeading`.
 */
export class LeaderElector {
  readonly #api: CoordinationV1Api;
  readonly #namespace: string;
  readonly #name: string;
  readonly #identity: string;
  readonly #leaseDurationMs: number;
  readonly #renewDeadlineMs: number;
  readonly #retryPeriodMs: number;
  readonly #now: () => number;
  readonly #options: LeaderElectorOptions;
  #state: LeaderElectorState = 'idle';
  #halted = false;
  #loop: Promise<void> | undefined;
  #wake: (() => void) | undefined;
  #sleepTimer: NodeJS.Timeout | undefined;
  #deadlineTimer: NodeJS.Timeout | undefined;
  /** The holder last seen, and when (by this candidate's clock) its record last changed. */
  #observedHolder = '';
  #observedKey = '';
  #observedAtMs = 0;
  #reportedLeader = '';
  #figures = { leaseTransitions: 0, acquisitions: 0, lostLeases: 0, failedRequests: 0, lastRenewMs: undefined as number | undefined };

  /** Checks the options; nothing happens before {@link LeaderElector.start}. */
  constructor(options: LeaderElectorOptions) {
    const leaseDurationMs = options.leaseDurationMs ?? 15000;
    const renewDeadlineMs = options.renewDeadlineMs ?? 10000;
    const retryPeriodMs = options.retryPeriodMs ?? 2000;
    const invalid = (why: string): LeaderElectionError => new LeaderElectionError('invalid-options', `leader election: ${why}`);
    for (const [field, value] of [['namespace', options.namespace], ['name', options.name], ['identity', options.identity]] as const) {
      if (value.trim() === '') throw invalid(`${field} must not be empty`);
    }
    if (!Number.isInteger(leaseDurationMs) || leaseDurationMs <= 0 || leaseDurationMs % 1000 !== 0) {
      throw invalid(`leaseDurationMs must be a whole number of seconds (a Lease stores seconds), got ${leaseDurationMs}`);
    }
    if (!(retryPeriodMs > 0)) throw invalid(`retryPeriodMs must be positive, got ${retryPeriodMs}`);
    // client-go's rules: the leader must give up before its Lease expires for others, and must
    // get more than one attempt at renewing before it gives up.
    if (!(renewDeadlineMs < leaseDurationMs)) throw invalid(`renewDeadlineMs (${renewDeadlineMs}) must be below leaseDurationMs (${leaseDurationMs})`);
    if (!(renewDeadlineMs > retryPeriodMs * 1.2)) throw invalid(`renewDeadlineMs (${renewDeadlineMs}) must exceed 1.2 × retryPeriodMs (${retryPeriodMs})`);
    this.#api = options.kubeConfig.makeApiClient(CoordinationV1Api);
    this.#namespace = options.namespace;
    this.#name = options.name;
    this.#identity = options.identity;
    this.#leaseDurationMs = leaseDurationMs;
    this.#renewDeadlineMs = renewDeadlineMs;
    this.#retryPeriodMs = retryPeriodMs;
    this.#now = options.nowMs ?? Date.now;
    this.#options = options;
  }

  /** Starts campaigning; the first attempt is made at once. */
  start(): void {
    if (this.#state !== 'idle') throw new LeaderElectionError('already-started', `leader election for lease ${this.#namespace}/${this.#name} was already started`);
    this.#state = 'candidate';
    this.#loop = this.#run();
  }

  /** Whether this candidate leads now (it has renewed within `renewDeadlineMs`). */
  isLeader(): boolean {
    return this.#state === 'leading';
  }

  /** The identity holding the Lease as last seen, or undefined when none does. */
  leaderIdentity(): string | undefined {
    return this.#observedHolder === '' ? undefined : this.#observedHolder;
  }

  /** Figures for `/metrics`. */
  figures(): LeaderElectionFigures {
    return { state: this.#state, ...this.#figures };
  }

  /**
   * Stops campaigning for good: steps down (`onStoppedLeading`) and, unless `release` is false,
   * hands the Lease over. A failed hand-over is reported to `onError` (the successor then waits
   * for the Lease to expire); a stop always completes. `release: false` leaves the Lease to
   * expire, as a crash would.
   */
  async stop(options: { release?: boolean } = {}): Promise<void> {
    if (options.release === false) {
      await this.#halt();
      return;
    }
    try {
      await this.release();
    } catch (error) {
      this.#report(error as LeaderElectionError);
    }
  }

  /**
   * Stops campaigning, steps down, then empties the Lease's holder so that a successor takes
   * over at its next attempt instead of waiting for the Lease to expire (client-go's
   * ReleaseOnCancel). Returns false when this candidate did not hold the Lease (nothing written).
   * Throws a `release-failed` {@link LeaderElectionError} when the write fails.
   */
  async release(): Promise<boolean> {
    await this.#halt();
    try {
      for (let attempt = 0; attempt < 2; attempt++) {
        const lease = await this.#read();
        if (lease === undefined || (lease.spec?.holderIdentity ?? '') !== this.#identity) return false;
        const nowMs = this.#now();
        const released: LeaseRecord = {
          holderIdentity: '',
          // The shortest duration a Lease can state, as client-go writes on release.
          leaseDurationSeconds: 1,
          acquireTime: formatMicroTime(nowMs),
          renewTime: formatMicroTime(nowMs),
          leaseTransitions: lease.spec?.leaseTransitions ?? 0,
        };
        try {
          await this.#replace(lease, released);
          return true;
        } catch (error) {
          if (statusOf(error) !== conflict) throw error;
        }
      }
      throw new Error('the lease kept changing (409 Conflict twice)');
    } catch (error) {
      this.#figures.failedRequests++;
      throw new LeaderElectionError('release-failed', `releasing lease ${this.#namespace}/${this.#name} failed: ${describe(error)}`, { cause: error });
    }
  }

  /** Ends the loop (waiting for an attempt in flight) and steps down. */
  async #halt(): Promise<void> {
    this.#halted = true;
    if (this.#sleepTimer !== undefined) clearTimeout(this.#sleepTimer);
    this.#wake?.();
    await this.#loop;
    this.#stepDown();
    this.#state = 'stopped';
  }

  async #run(): Promise<void> {
    while (!this.#halted) {
      await this.#attempt();
      if (this.#halted) return;
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
        this.#sleepTimer = setTimeout(resolve, this.#retryPeriodMs);
      });
    }
  }

  async #attempt(): Promise<void> {
    const startedMs = this.#now();
    let held = false;
    try {
      held = await this.#tryAcquireOrRenew(startedMs);
    } catch (error) {
      this.#figures.failedRequests++;
      this.#report(new LeaderElectionError('request-failed', `${this.#state === 'leading' ? 'renewing' : 'acquiring'} lease ${this.#namespace}/${this.#name} failed: ${describe(error)}`, { cause: error }));
    }
    if (this.#halted) return;
    // A renewal that took the whole deadline to succeed came too late to count.
    if (held && this.#now() - startedMs < this.#renewDeadlineMs) {
      this.#figures.lastRenewMs = startedMs;
      this.#armDeadline(startedMs);
      if (this.#state !== 'leading') {
        this.#state = 'leading';
        this.#figures.acquisitions++;
        this.#call(() => this.#options.onStartedLeading());
      }
    } else if (this.#state === 'leading' && this.#now() - (this.#figures.lastRenewMs ?? startedMs) >= this.#renewDeadlineMs) {
      this.#loseLease();
    }
  }

  /**
   * Steps down when no renewal succeeds within the deadline, even if a request hangs. Counted
   * from the `renewTime` written, not from the answer: that is what others count from.
   */
  #armDeadline(renewMs: number): void {
    if (this.#deadlineTimer !== undefined) clearTimeout(this.#deadlineTimer);
    this.#deadlineTimer = setTimeout(() => {
      this.#deadlineTimer = undefined;
      if (this.#state === 'leading' && !this.#halted) this.#loseLease();
    }, Math.max(0, renewMs + this.#renewDeadlineMs - this.#now()));
  }

  #loseLease(): void {
    this.#figures.lostLeases++;
    this.#stepDown();
  }

  #stepDown(): void {
    if (this.#deadlineTimer !== undefined) clearTimeout(this.#deadlineTimer);
    this.#deadlineTimer = undefined;
    if (this.#state !== 'leading') return;
    this.#state = 'candidate';
    this.#call(() => this.#options.onStoppedLeading());
  }

  /** One round: read, decide, write. A conflict means a fresh read and one more decision. */
  async #tryAcquireOrRenew(nowMs: number): Promise<boolean> {
    for (let attempt = 0; attempt < 2; attempt++) {
      const lease = await this.#read();
      if (lease === undefined) {
        const record: LeaseRecord = {
          holderIdentity: this.#identity,
          leaseDurationSeconds: this.#leaseDurationMs / 1000,
          acquireTime: formatMicroTime(nowMs),
          renewTime: formatMicroTime(nowMs),
          leaseTransitions: 0,
        };
        try {
          this.#observe(await this.#create(record), nowMs);
          return true;
        } catch (error) {
          if (statusOf(error) === conflict) continue;
          throw error;
        }
      }
      this.#observe(lease, nowMs);
      const holder = lease.spec?.holderIdentity ?? '';
      if (holder !== '' && holder !== this.#identity && !this.#expired(lease, nowMs)) return false;
      const mine = holder === this.#identity;
      const record: LeaseRecord = {
        holderIdentity: this.#identity,
        leaseDurationSeconds: this.#leaseDurationMs / 1000,
        acquireTime: mine ? microTimeText(lease.spec?.acquireTime, nowMs) : formatMicroTime(nowMs),
        renewTime: formatMicroTime(nowMs),
        leaseTransitions: (lease.spec?.leaseTransitions ?? 0) + (mine ? 0 : 1),
      };
      try {
        this.#observe(await this.#replace(lease, record), nowMs);
        return true;
      } catch (error) {
        if (statusOf(error) === conflict) continue;
        throw error;
      }
    }
    return false;
  }

  /**
   * Whether another holder's Lease has run out, by both clocks: its `renewTime` plus
   * `leaseDurationSeconds` has passed, and this candidate has seen the record unchanged for as
   * long (so a holder whose clock runs behind is not cut short: client-go trusts only the latter).
   */
  #expired(lease: V1Lease, nowMs: number): boolean {
    const durationMs = (lease.spec?.leaseDurationSeconds ?? this.#leaseDurationMs / 1000) * 1000;
    if (this.#observedAtMs + durationMs > nowMs) return false;
    const renewTime = lease.spec?.renewTime as unknown;
    if (renewTime === undefined || renewTime === null) return true;
    try {
      return parseMicroTime(renewTime as string | Date) + durationMs <= nowMs;
    } catch {
      // The real server cannot hold an unreadable MicroTime; if one shows up, our own clock decides.
      return true;
    }
  }

  #observe(lease: V1Lease, nowMs: number): void {
    const key = recordKey(lease.spec);
    if (key !== this.#observedKey) {
      this.#observedKey = key;
      this.#observedAtMs = nowMs;
    }
    this.#observedHolder = lease.spec?.holderIdentity ?? '';
    this.#figures.leaseTransitions = lease.spec?.leaseTransitions ?? 0;
    if (this.#observedHolder !== '' && this.#observedHolder !== this.#reportedLeader) {
      this.#reportedLeader = this.#observedHolder;
      const leader = this.#observedHolder;
      const onNewLeader = this.#options.onNewLeader;
      if (onNewLeader !== undefined) this.#call(() => onNewLeader(leader));
    }
  }

  async #read(): Promise<V1Lease | undefined> {
    try {
      return await this.#api.readNamespacedLease({ namespace: this.#namespace, name: this.#name }, this.#requestOptions());
    } catch (error) {
      if (statusOf(error) === notFound) return undefined;
      throw error;
    }
  }

  async #create(record: LeaseRecord): Promise<V1Lease> {
    const body = { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: this.#name, namespace: this.#namespace }, spec: record };
    return this.#api.createNamespacedLease({ namespace: this.#namespace, body: {}, fieldManager: FIELD_MANAGER }, this.#requestOptions(body));
  }

  /** An update of `lease` (its resourceVersion included: a stale one is a 409) with `record`. */
  async #replace(lease: V1Lease, record: LeaseRecord): Promise<V1Lease> {
    const body = { ...lease, apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', spec: { ...lease.spec, ...record } };
    return this.#api.replaceNamespacedLease({ namespace: this.#namespace, name: this.#name, body: {}, fieldManager: FIELD_MANAGER }, this.#requestOptions(body));
  }

  /**
   * A deadline on every request (a hanging server must not stall the election), and the body
   * serialised here: client-node types MicroTime fields as `Date` and writes a Date with
   * milliseconds, which the API server refuses (400).
   */
  #requestOptions(body?: object): ConfigurationOptions<ObservableMiddleware> {
    const text = body === undefined ? undefined : JSON.stringify(body);
    const timeoutMs = this.#renewDeadlineMs;
    const middleware: ObservableMiddleware = {
      pre: (context: RequestContext) => {
        if (text !== undefined) context.setBody(text);
        context.setSignal(AbortSignal.timeout(timeoutMs));
        return new Observable(Promise.resolve(context));
      },
      post: (context: ResponseContext) => new Observable(Promise.resolve(context)),
    };
    return { middleware: [middleware], middlewareMergeStrategy: 'append' };
  }

  #call(callback: () => void): void {
    try {
      callback();
    } catch (error) {
      this.#report(new LeaderElectionError('callback-failed', `a leader election callback threw: ${describe(error)}`, { cause: error }));
    }
  }

  #report(error: LeaderElectionError): void {
    this.#options.onError?.(error);
  }
}
