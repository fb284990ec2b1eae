/**
 * The informer: a local copy of one resource kept by listing once and then watching from the
 * list's resourceVersion, the {@link ObjectCache} every Kubernetes adapter reads.
 *
 * Written on client-node's `Watch` and `KubernetesObjectApi.list` rather than wrapping its
 * `makeInformer`/`ListWatch`: in 1.4 `ListWatch` stops for good on a list or watch error (no
 * retry, no back-off), never asks for bookmarks, and indexes by namespace only. Here: bookmarks
 * advance the resourceVersion, a 410 Gone (HTTP status or ERROR event) re-lists and reports the
 * difference, every other failure or dropped connection restarts with jittered exponential
 * back-off, and indexes by namespace and owner uid keep `list()` off a full scan.
 */
import { KubernetesObjectApi, Watch, type KubeConfig, type KubernetesObject } from '@kubernetes/client-node';
import { matchesQuery, type CacheChange, type CacheQuery, type ObjectCache } from './object-cache.js';
import { serverRetryAfterMs } from './retry-after.js';
import { KubeError } from './kube-error.js';
import { requestFailureMessage, requestTimeoutOf } from './request-timeout.js';

/** Why the informer reports an error; none of them stops it (it retries), except `stopped`. */
export type InformerErrorCode = 'list-failed' | 'watch-failed' | 'watch-silent' | 'listener-failed' | 'stopped';

/** A failure the informer met; `retryInMs` is when it tries again (undefined: it does not). */
export class InformerError extends KubeError<InformerErrorCode> {
  constructor(
    code: InformerErrorCode,
    message: string,
    /** Delay before the next attempt. */
    readonly retryInMs?: number,
    options?: ErrorOptions,
  ) {
    super(code, message, options);
  }
}

/** Back-off between attempts after failures. */
export interface InformerBackoff {
  /** The first delay (default 200 ms); each failure in a row doubles it. */
  initialMs?: number;
  /** The longest delay (default 30 s). */
  maxMs?: number;
  /** A watch open this long counts as healthy and resets the delay (default 10 s). */
  healthyWatchMs?: number;
}

/** Options of {@link Informer}. */
export interface InformerOptions {
  /** Where the cluster is. */
  kubeConfig: KubeConfig;
  /** `v1`, `apps/v1`, `graylane.dev/v1alpha1` … */
  apiVersion: string;
  /** `Pod`, `ReplicaSet`, `Rollout` … */
  kind: string;
  /** The resource's plural name in its URL: `pods`, `replicasets`, `rollouts` … */
  plural: string;
  /** Only this namespace; undefined: all namespaces (or a cluster-scoped resource). */
  namespace?: string | undefined;
  /** A label selector applied on the server (`app=web,tier!=db`). */
  labelSelector?: string | undefined;
  /** Retry pacing. */
  backoff?: InformerBackoff | undefined;
  /** Told of every failure (for logs); the informer retries on its own. */
  onError?: ((error: InformerError) => void) | undefined;
  /**
   * A watch that brings nothing (no change, no bookmark) for this long is ended and opened again
   * from where it was (default 2 minutes). An API server with its watch cache sends a bookmark
   * every minute to a watch that asks for them; a connection that died without a word (a NAT or
   * load balancer that forgot it) brings nothing, and only the kernel's keep-alive, after some
   * eleven minutes, or nothing at all would otherwise end it, the copy stale all that while.
   */
  watchSilenceMs?: number | undefined;
  /** Jitter source in [0, 1) (default `Math.random`). */
  random?: (() => number) | undefined;
  /** Clock in epoch milliseconds (default `Date.now`). */
  nowMs?: (() => number) | undefined;
}

/** Figures for /metrics. */
export interface InformerFigures {
  /** Successful lists (the first one and every re-list after a 410). */
  lists: number;
  /** Re-lists forced by a 410 Gone. */
  relistsAfterGone: number;
  /** Watches restarted after they ended, failed or expired. */
  watchRestarts: number;
  /** Failed list or watch attempts. */
  failures: number;
  /** When the copy was last made whole from a list (epoch ms); undefined before the first list. */
  lastResyncAtMs: number | undefined;
  /** Objects in the copy. */
  objects: number;
  /** The resourceVersion the next watch starts from. */
  resourceVersion: string;
}

type WatchOutcome =
  | { kind: 'gone' }
  | { kind: 'ended'; openedMs: number }
  | { kind: 'silent'; openedMs: number; silentMs: number }
  | { kind: 'failed'; error: unknown; openedMs: number };

interface Loose { code?: unknown; statusCode?: unknown; message?: unknown }

function statusOf(error: unknown): number | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const e = error as Loose;
  if (typeof e.statusCode === 'number') return e.statusCode;
  if (typeof e.code === 'number') return e.code;
  return undefined;
}

function describe(error: unknown, timeoutMs: number | undefined): string {
  const status = statusOf(error);
  const message = requestFailureMessage(error, timeoutMs);
  return status === undefined ? message : `HTTP ${status}: ${message}`;
}

/** The resource's collection path, as a watch is addressed. */
export function collectionPath(options: { apiVersion: string; plural: string; namespace?: string | undefined }): string {
  const root = options.apiVersion.includes('/') ? `/apis/${options.apiVersion}` : `/api/${options.apiVersion}`;
  return options.namespace === undefined
    ? `${root}/${options.plural}`
    : `${root}/namespaces/${encodeURIComponent(options.namespace)}/${options.plural}`;
}

function keyOf(object: KubernetesObject): string {
  return `${object.metadata?.namespace ?? ''}/${object.metadata?.name ?? ''}`;
}

function addTo(index: Map<string, Set<string>>, at: string, key: string): void {
  let keys = index.get(at);
  if (keys === undefined) {
    keys = new Set();
    index.set(at, keys);
  }
  keys.add(key);
}

const EMPTY: ReadonlySet<string> = new Set();

/** A label's index entry; `=` cannot occur in a label key. */
function labelAt(key: string, value: string): string {
  return `${key}=${value}`;
}

function removeFrom(index: Map<string, Set<string>>, at: string, key: string): void {
  const keys = index.get(at);
  if (keys === undefined) return;
  keys.delete(key);
  if (keys.size === 0) index.delete(at);
}

/** See the file comment. */
export class Informer<T extends KubernetesObject = KubernetesObject> implements ObjectCache<T> {
  readonly #options: InformerOptions;
  readonly #path: string;
  readonly #api: KubernetesObjectApi;
  readonly #watch: Watch;
  readonly #objects = new Map<string, T>();
  readonly #byNamespace = new Map<string, Set<string>>();
  readonly #byOwner = new Map<string, Set<string>>();
  /** Keys per `label=value`: a Service's selector (a pod-template hash among it) finds its pods without a namespace scan. */
  readonly #byLabel = new Map<string, Set<string>>();
  readonly #listeners = new Set<(change: CacheChange<T>) => void>();
  readonly #figures = { lists: 0, relistsAfterGone: 0, watchRestarts: 0, failures: 0, lastResyncAtMs: undefined as number | undefined };
  #resourceVersion = '';
  #synced = false;
  #stopped = false;
  #failuresInRow = 0;
  #run: Promise<void> | undefined;
  #abortWatch: (() => void) | undefined;
  #wake: (() => void) | undefined;
  #sleepTimer: NodeJS.Timeout | undefined;
  #firstList: { resolve: () => void; reject: (error: Error) => void } | undefined;

  constructor(options: InformerOptions) {
    this.#options = options;
    this.#path = collectionPath(options);
    this.#api = KubernetesObjectApi.makeApiClient(options.kubeConfig);
    this.#watch = new Watch(options.kubeConfig);
  }

  /**
   * Starts listing and watching; resolves once the first list is in the copy (failed lists are
   * retried with back-off meanwhile). Calling it again returns the same wait.
   *
   * @throws {InformerError} `stopped` when {@link stop} comes before the first list.
   */
  start(): Promise<void> {
    if (this.#synced) return Promise.resolve();
    if (this.#stopped) return Promise.reject(new InformerError('stopped', `informer for ${this.#path} is stopped`));
    const first = new Promise<void>((resolve, reject) => {
      const previous = this.#firstList;
      this.#firstList = {
        resolve: () => { previous?.resolve(); resolve(); },
        reject: (error) => { previous?.reject(error); reject(error); },
      };
    });
    this.#run ??= this.#loop();
    return first;
  }

  /** Ends the watch, cancels any pending retry and resolves when nothing of the informer is left running. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#abortWatch?.();
    if (this.#sleepTimer !== undefined) clearTimeout(this.#sleepTimer);
    this.#wake?.();
    this.#firstList?.reject(new InformerError('stopped', `informer for ${this.#path} was stopped before its first list`));
    this.#firstList = undefined;
    await this.#run;
  }

  /** {@inheritDoc ObjectCache.get} */
  get(namespace: string, name: string): T | undefined {
    return this.#objects.get(`${namespace}/${name}`);
  }

  /** {@inheritDoc ObjectCache.list} */
  list(query: CacheQuery = {}): T[] {
    // The narrowest index: an owner's children or a revision's pods are a handful, a namespace's objects many.
    let keys: ReadonlySet<string> | undefined;
    const narrower = (set: ReadonlySet<string> | undefined): void => {
      const s = set ?? EMPTY;
      if (keys === undefined || s.size < keys.size) keys = s;
    };
    if (query.ownerUid !== undefined) narrower(this.#byOwner.get(query.ownerUid));
    if (query.namespace !== undefined) narrower(this.#byNamespace.get(query.namespace));
    for (const [k, v] of Object.entries(query.labels ?? {})) narrower(this.#byLabel.get(labelAt(k, v)));
    const candidates = keys === undefined ? this.#objects.values() : [...keys].map((k) => this.#objects.get(k)!);
    const found: T[] = [];
    for (const object of candidates) if (matchesQuery(object, query)) found.push(object);
    return found;
  }

  /** {@inheritDoc ObjectCache.onChange} */
  onChange(listener: (change: CacheChange<T>) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** {@inheritDoc ObjectCache.synced} */
  synced(): boolean {
    return this.#synced;
  }

  /** Counts and times for /metrics. */
  figures(): InformerFigures {
    return { ...this.#figures, objects: this.#objects.size, resourceVersion: this.#resourceVersion };
  }

  async #loop(): Promise<void> {
    let needList = true;
    while (!this.#stopped) {
      if (needList) {
        const failure = await this.#list();
        if (this.#stopped) break;
        if (failure !== undefined) {
          const delay = this.#backoffDelay(failure.error);
          this.#report(new InformerError('list-failed', `list of ${this.#path} failed: ${describe(failure.error, requestTimeoutOf(this.#options.kubeConfig))}`, delay, { cause: failure.error }));
          await this.#sleep(delay);
          continue;
        }
        needList = false;
      }
      const outcome = await this.#watchOnce();
      if (this.#stopped) break;
      this.#figures.watchRestarts += 1;
      if (outcome.kind === 'silent') {
        // Nothing is known to be wrong with the server: resume from the resourceVersion at once.
        this.#report(new InformerError('watch-silent', `watch of ${this.#path} brought nothing for ${outcome.silentMs} ms: opened again`, 0));
        continue;
      }
      if (outcome.kind === 'gone') {
        // The history we would resume from is compacted: only a fresh list can tell what changed.
        this.#figures.relistsAfterGone += 1;
        needList = true;
        continue;
      }
      if (this.#now() - outcome.openedMs >= (this.#options.backoff?.healthyWatchMs ?? 10_000)) {
        this.#failuresInRow = 0;
        // A long watch the server ended (its timeout) is routine: resume at once.
        if (outcome.kind === 'ended') continue;
      }
      // A watch that failed, or ended soon after it opened, waits: a server closing every watch
      // at once must not be hammered.
      const delay = this.#backoffDelay(outcome.kind === 'failed' ? outcome.error : undefined);
      if (outcome.kind === 'failed') this.#report(new InformerError('watch-failed', `watch of ${this.#path} failed: ${describe(outcome.error, requestTimeoutOf(this.#options.kubeConfig))}`, delay, { cause: outcome.error }));
      await this.#sleep(delay);
    }
  }

  /** Lists and replaces the copy; the error when the list failed. */
  async #list(): Promise<{ error: unknown } | undefined> {
    const o = this.#options;
    try {
      const list = await this.#api.list<T>(o.apiVersion, o.kind, o.namespace, undefined, undefined, undefined, undefined, o.labelSelector);
      if (this.#stopped) return undefined;
      this.#replace(list.items);
      this.#resourceVersion = list.metadata?.resourceVersion ?? '';
      this.#figures.lists += 1;
      this.#figures.lastResyncAtMs = this.#now();
      if (!this.#synced) {
        this.#synced = true;
        this.#firstList?.resolve();
        this.#firstList = undefined;
      }
      return undefined;
    } catch (error) {
      return { error };
    }
  }

  #watchOnce(): Promise<WatchOutcome> {
    return new Promise<WatchOutcome>((resolve) => {
      const openedMs = this.#now();
      let gone = false;
      let streamError: unknown;
      let settled = false;
      const silenceMs = this.#options.watchSilenceMs ?? 120_000;
      let silence: NodeJS.Timeout | undefined;
      let abort: (() => void) | undefined;
      const settle = (outcome: WatchOutcome): void => {
        if (settled) return;
        settled = true;
        clearTimeout(silence);
        this.#abortWatch = undefined;
        abort?.();
        resolve(outcome);
      };
      // One timer per watch, not one per event (a busy cluster sends thousands a second): when it
      // fires it checks when the watch last brought something, and waits out the rest if recently.
      let lastHeardMs = this.#now();
      const heard = (): void => {
        lastHeardMs = this.#now();
      };
      const check = (waitMs: number): void => {
        silence = setTimeout(() => {
          const quietMs = this.#now() - lastHeardMs;
          if (quietMs >= silenceMs) settle({ kind: 'silent', openedMs, silentMs: silenceMs });
          else check(silenceMs - quietMs);
        }, waitMs);
        silence.unref();
      };
      check(silenceMs);
      // stop() ends the watch at once, also one whose answer has not started (client-node hands
      // back its abort only once the answer's headers are in).
      this.#abortWatch = () => settle({ kind: 'ended', openedMs });
      const onEvent = (type: string, object: T & { code?: unknown; message?: unknown }): void => {
        if (settled) return;
        heard();
        switch (type) {
          case 'ADDED':
          case 'MODIFIED':
            this.#upsert(object);
            break;
          case 'DELETED':
            this.#remove(object);
            break;
          case 'BOOKMARK':
            break;
          case 'ERROR':
            if (object.code === 410) gone = true;
            else streamError = Object.assign(new Error(typeof object.message === 'string' ? object.message : 'watch error'), { statusCode: object.code });
            return;
          default:
            return;
        }
        const rv = object.metadata?.resourceVersion;
        if (rv !== undefined && rv !== '') this.#resourceVersion = rv;
      };
      const onDone = (error: unknown): void => {
        if (gone || statusOf(error) === 410) settle({ kind: 'gone' });
        else if (error !== null && error !== undefined) settle({ kind: 'failed', error, openedMs });
        else if (streamError !== undefined) settle({ kind: 'failed', error: streamError, openedMs });
        else settle({ kind: 'ended', openedMs });
      };
      const query: Record<string, string | boolean | number> = {
        resourceVersion: this.#resourceVersion,
        allowWatchBookmarks: true,
        // The server ends the watch after 5 to 10 minutes, as client-go asks, so that a
        // half-open connection cannot keep the copy silently stale for ever.
        timeoutSeconds: 300 + Math.floor(this.#random() * 300),
      };
      if (this.#options.labelSelector !== undefined) query.labelSelector = this.#options.labelSelector;
      this.#watch.watch(this.#path, query, onEvent, onDone).then((controller) => {
        // A watch whose answer came after it was given up on (silent) is closed, not left open.
        if (settled) {
          controller.abort();
          return;
        }
        abort = () => controller.abort();
      }, (error: unknown) => settle({ kind: 'failed', error, openedMs }));
    });
  }

  #replace(items: readonly T[]): void {
    const seen = new Set<string>();
    for (const item of items) {
      seen.add(keyOf(item));
      this.#upsert(item);
    }
    for (const [key, object] of [...this.#objects]) if (!seen.has(key)) this.#remove(object);
  }

  #upsert(raw: T): void {
    // List items come without apiVersion and kind; adapters compare and write them back whole.
    const object = { ...raw, apiVersion: raw.apiVersion ?? this.#options.apiVersion, kind: raw.kind ?? this.#options.kind };
    const key = keyOf(object);
    const before = this.#objects.get(key);
    if (before !== undefined && before.metadata?.resourceVersion === object.metadata?.resourceVersion) return;
    if (before !== undefined) this.#unindex(key, before);
    this.#objects.set(key, object);
    addTo(this.#byNamespace, object.metadata?.namespace ?? '', key);
    for (const owner of object.metadata?.ownerReferences ?? []) addTo(this.#byOwner, owner.uid, key);
    for (const [k, v] of Object.entries(object.metadata?.labels ?? {})) addTo(this.#byLabel, labelAt(k, v), key);
    this.#emit({ type: before === undefined ? 'added' : 'modified', object });
  }

  #remove(raw: T): void {
    const key = keyOf(raw);
    const before = this.#objects.get(key);
    if (before === undefined) return;
    this.#objects.delete(key);
    this.#unindex(key, before);
    // The watch's DELETED carries the last state; after a re-list only what we held is known.
    this.#emit({ type: 'deleted', object: raw.apiVersion === undefined ? before : raw });
  }

  #unindex(key: string, object: T): void {
    removeFrom(this.#byNamespace, object.metadata?.namespace ?? '', key);
    for (const owner of object.metadata?.ownerReferences ?? []) removeFrom(this.#byOwner, owner.uid, key);
    for (const [k, v] of Object.entries(object.metadata?.labels ?? {})) removeFrom(this.#byLabel, labelAt(k, v), key);
  }

  #emit(change: CacheChange<T>): void {
    for (const listener of [...this.#listeners]) {
      try {
        listener(change);
      } catch (error) {
        // One adapter's bug must not stop the copy that every other adapter reads.
        this.#report(new InformerError('listener-failed', `a listener of ${this.#path} threw on ${change.type} ${keyOf(change.object)}: ${describe(error, undefined)}`, undefined, { cause: error }));
      }
    }
  }

  #report(error: InformerError): void {
    if (error.code !== 'listener-failed') this.#figures.failures += 1;
    this.#options.onError?.(error);
  }

  /** The wait before the next attempt after one more failure in a row; a 429's or 503's Retry-After is honoured. */
  #backoffDelay(error: unknown): number {
    const b = this.#options.backoff ?? {};
    const initial = b.initialMs ?? 200;
    const max = b.maxMs ?? 30_000;
    const step = Math.min(max, initial * 2 ** Math.min(this.#failuresInRow, 30));
    this.#failuresInRow += 1;
    // Equal jitter: never under half the step, so that retries spread out yet still back off.
    const delay = Math.round(step / 2 + (step / 2) * this.#random());
    const retryAfterMs = serverRetryAfterMs(error, { nowMs: () => this.#now(), maxMs: max });
    return retryAfterMs === undefined ? delay : Math.min(max, Math.max(delay, retryAfterMs));
  }

  #sleep(ms: number): Promise<void> {
    if (ms <= 0 || this.#stopped) return Promise.resolve();
    return new Promise<void>((resolve) => {
      this.#wake = () => {
        this.#wake = undefined;
        resolve();
      };
      this.#sleepTimer = setTimeout(() => {
        this.#sleepTimer = undefined;
        this.#wake?.();
      }, ms);
    });
  }

  #random(): number {
    return (this.#options.random ?? Math.random)();
  }

  #now(): number {
    return (this.#options.nowMs ?? Date.now)();
  }
}

