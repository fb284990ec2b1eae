/**
 * The runtime port: what the daemon asks of "the thing that runs a revision's instances".
 * Adapters live one per folder (process/, static/) and are chosen through registry.ts by `type`.
 */
import type { ProcessTemplate } from '../documents/schema.js';

/**
 * Lifecycle of one instance. `starting` until the readiness probe has decided once; `ready` /
 * `unready` follow the probe's thresholds; `failed` when the process exited (a restart with back-off
 * may follow); `stopping` from the first step of a graceful stop; `stopped` once it is gone.
 */
export type InstanceState = 'starting' | 'ready' | 'unready' | 'stopping' | 'stopped' | 'failed';

/** A snapshot of one instance, safe to persist and to send over the API. */
export interface InstanceInfo {
  /** Unique, stable for the instance's life (restarts keep it): `<service>-<revision>-<random>`. */
  id: string;
  /** The namespace of its service, from runtimes that have namespaces (Kubernetes). */
  namespace?: string;
  /** The service the instance belongs to. */
  service: string;
  /** The revision (template hash) the instance runs. */
  revision: string;
  /** Where to send its traffic, `host:port`. */
  address: string;
  /** The process id of the current process (group leader), when the runtime runs processes. */
  pid?: number;
  /** Current lifecycle state. */
  state: InstanceState;
  /** How many times the runtime relaunched it (crash, liveness failure, lost port). */
  restarts: number;
  /** When the current process started (wall-clock ms); for processes, read from /proc when possible. */
  startedAtMs: number;
  /** The last thing that went wrong, in a sentence (probe failure, exit code and last log lines…). */
  lastError?: string;
  /**
   * Relaunches since the instance was last ready (all of them when it never was): what tells a
   * crash loop from an instance that crashed once after serving for a day.
   */
  restartsSinceReady?: number;
  /** How its last process ended, when one has ended. */
  lastExit?: InstanceExit;
  /** The last readiness check's outcome, when one has run. */
  lastProbe?: ProbeResult;
  /**
   * Its current process was ready once and is not being stopped: `unready` then means running
   * with a failing readiness probe (a probe timing out on a loaded host, say), not still starting
   * nor on its way out. Set by runtimes that know it.
   */
  readyBefore?: boolean;
}

/** How a process of an instance ended. */
export interface InstanceExit {
  /** Exit code, or null when a signal ended it (or the code is unknown: an adopted process). */
  code: number | null;
  /** The signal that ended it, or null. */
  signal: string | null;
  /** When the end was seen (wall-clock ms). */
  atMs: number;
}

/** The outcome of one readiness check. */
export interface ProbeResult {
  /** `pass`, `fail`, or `pending` (nothing listens yet while starting: counts neither way). */
  outcome: 'pass' | 'fail' | 'pending';
  /** The check's own words (`HTTP 500 from /healthz`, `connection refused`…). */
  detail: string;
  /** When the check finished (wall-clock ms). */
  atMs: number;
}

/** What an adapter can do; asking for anything else throws {@link RuntimeCapabilityError}. */
export interface RuntimeCapabilities {
  /** It starts, stops and scales instances itself (false: it only watches instances run elsewhere). */
  processes: boolean;
  /** It keeps instance output and can return it through `readLogs`. */
  logs: boolean;
  /** It can re-attach to instances left running by a previous daemon (`adopt`). */
  adopt: boolean;
}

/** Hook run before a graceful stop signals the instance; the daemon unroutes and drains here. */
export type BeforeStop = (instance: InstanceInfo) => Promise<void> | void;

/** Arguments of {@link Runtime.ensureInstances}. */
export interface EnsureInstancesRequest<TTemplate> {
  /** Namespace of the service; runtimes with one namespace (a single host) ignore it. */
  namespace?: string;
  /** Service name. */
  service: string;
  /** Revision name; one template per revision (revisions are immutable). */
  revision: string;
  /** What to run (adapter-specific: a process template, a list of static targets…). */
  template: TTemplate;
  /** Desired number of live instances of this revision. */
  replicas: number;
  /** Used for the surplus instances this call stops (see {@link StopInstanceRequest.beforeStop}). */
  beforeStop?: BeforeStop;
  /** Used for the surplus instances this call stops (see {@link StopInstanceRequest.drainMs}). */
  drainMs?: number;
}

/** Arguments of {@link Runtime.stopInstance}. */
export interface StopInstanceRequest {
  /** The instance to stop. */
  id: string;
  /** Extra wait after `beforeStop` and before SIGTERM, for clients that still hold the address. */
  drainMs?: number;
  /** Awaited first, with the instance already in state `stopping`; a throw is recorded, not fatal. */
  beforeStop?: BeforeStop;
}

/** Which instances to list; omitted fields match everything. */
export interface InstanceFilter {
  /**
   * Only this namespace. Runtimes with one namespace (a single host) ignore it; the Kubernetes
   * runtime needs it, since two namespaces may hold services of the same name.
   */
  namespace?: string;
  /** Only this service. */
  service?: string;
  /** Only this revision. */
  revision?: string;
}

/** What a daemon persists per instance so that its successor can re-attach (see `adopt`). */
export interface AdoptRecord {
  /** The instance id. */
  id: string;
  /** Its service. */
  service: string;
  /** Its revision. */
  revision: string;
  /** The recorded process id. */
  pid: number;
  /** The recorded port (on the runtime's host). */
  port: number;
  /** The recorded start time, as reported by `InstanceInfo.startedAtMs`; catches recycled pids. */
  startedAtMs: number;
  /** The recorded argv; compared with /proc/<pid>/cmdline. */
  command: string[];
  /** Restarts so far, carried over so the count survives the daemon. */
  restarts?: number;
  /** The template, so probes and restarts resume as before; without it: TCP readiness, no restart. */
  template?: ProcessTemplate;
  /**
   * It was ready when last recorded: it is routed again at once (its identity is checked by pid,
   * start time and argv), and its readiness probe confirms it afterwards, so a daemon restart
   * leaves no gap without ready instances.
   */
  wasReady?: boolean;
}

/** Why a record was not adopted. `dead`: no such process; `mismatch`: the pid now belongs to another. */
export interface AdoptRejection {
  /** The record as given. */
  record: AdoptRecord;
  /** Machine-readable reason. */
  reason: 'dead' | 'mismatch' | 'duplicate';
  /** The reason in a sentence. */
  message: string;
}

/** Result of {@link Runtime.adopt}. */
export interface AdoptResult {
  /** Instances now tracked again (probing resumed; nothing restarted). */
  adopted: InstanceInfo[];
  /** Records left alone; the caller decides (usually: start a replacement). */
  rejected: AdoptRejection[];
}

/** Arguments of {@link Runtime.readLogs}. */
export interface ReadLogsRequest {
  /** Service whose logs to read. */
  service: string;
  /** Only this revision (default: all revisions on disk). */
  revision?: string;
  /** Keep going and yield new lines as they are written, until `signal` aborts or the loop breaks. */
  follow?: boolean;
  /** Start at this byte offset of each instance's current log file, skipping rotated files. */
  sinceBytes?: number;
  /** Only the last this many lines of each instance (counted before following). */
  tailLines?: number;
  /** Only lines written at or after this time (epoch ms); exact to about a second, or to a whole file where no finer record exists. */
  sinceMs?: number;
  /** Stops a follow. */
  signal?: AbortSignal;
}

/** One line of an instance's output. */
export interface LogLine {
  /** Service. */
  service: string;
  /** Revision. */
  revision: string;
  /** Instance id. */
  instance: string;
  /** The line, without its newline. */
  line: string;
}

/** Emitted on every state (or address/pid) change of an instance. */
export interface InstanceChange {
  /** The instance after the change. */
  instance: InstanceInfo;
  /** The state before the change (equal to the new state when only address/pid/error changed). */
  previousState: InstanceState;
}

/**
 * A runtime creates, scales and retires a revision's instances and reports their readiness.
 *
 * Scaling is declarative (`ensureInstances` with a replica count, idempotent, fits a reconcile loop)
 * while retiring a specific instance is imperative (`stopInstance`): a rolling update must choose
 * which old instance to drain, and the daemon has to unroute it first through `beforeStop`.
 */
export interface Runtime<TTemplate = unknown> {
  /** The registry key of this adapter (`process`, `static`). */
  readonly type: string;
  /** What this adapter can do. */
  readonly capabilities: RuntimeCapabilities;
  /**
   * Starts or stops instances of `service`/`revision` until exactly `replicas` are live (not
   * stopping or stopped). Crash-looping (`failed`) instances count: they are being restarted.
   * Surplus instances are stopped gracefully, least useful first (failed, starting, unready, then
   * the youngest ready). Returns once started ones are spawned (not ready) and surplus ones stopped.
   */
  ensureInstances(request: EnsureInstancesRequest<TTemplate>): Promise<InstanceInfo[]>;
  /** Snapshots of the tracked instances (stopped instances are dropped once stopped). */
  listInstances(filter?: InstanceFilter): InstanceInfo[];
  /** Gracefully stops one instance: `stopping`, beforeStop, drain, SIGTERM, SIGKILL after the grace period. */
  stopInstance(request: StopInstanceRequest): Promise<void>;
  /** Re-attaches to instances a previous daemon left running; never restarts anything. */
  adopt(records: AdoptRecord[]): Promise<AdoptResult>;
  /** The instances' output, line by line; with `follow`, tails new lines. */
  readLogs(request: ReadLogsRequest): AsyncIterable<LogLine>;
  /** Subscribes to instance changes; returns the unsubscribe function. */
  on(event: 'change', listener: (change: InstanceChange) => void): () => void;
  /** Stops probes and timers; with `stopInstances`, also stops every instance gracefully. */
  shutdown(options: { stopInstances: boolean }): Promise<void>;
}
