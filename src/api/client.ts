/** The daemon API client the CLI (and tests) use. */
import type { Static, TSchema } from '@sinclair/typebox';
import {
  AnalysisListSchema, ApplyResultSchema, DataPlaneViewSchema, ErrorBodySchema, EventListSchema, EventViewSchema, HistorySchema, ServiceListSchema, ServiceViewSchema,
  contractIssues, describeIssue, requestOf,
  type AnalysisRunView, type ApplyResult, type DataPlaneView, type EventView, type Operation, type RevisionView, type ServiceView,
} from './contract/index.js';
import type { DaemonInfo } from './state-dir.js';
import type { PlanView, SeriesView, SessionView } from './contract/console.js';
import { CSRF_HEADER, PlanViewSchema, SeriesSchema, SessionSchema } from './contract/console.js';

/** The daemon could not be reached: not started, or gone. Exit code 3. */
export class DaemonUnreachableError extends Error {
  readonly code = 'DaemonUnreachable';
  constructor(message: string) {
    super(message);
    this.name = 'DaemonUnreachableError';
  }
}

/** The daemon answered with an error. */
export class ApiError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status: number,
    readonly details: string[] = [],
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/**
 * The daemon answered something the API contract does not allow (a daemon of another version,
 * or a bug): refused at once with where and why, rather than crashing later on a missing field.
 */
export class ContractViolationError extends Error {
  readonly code = 'BadResponse';
  constructor(
    /** What was asked, e.g. `GET /v1/services/api`. */
    readonly request: string,
    /** JSON pointer of the first bad location in the answer. */
    readonly path: string,
    /** Why it is bad, e.g. `must be boolean`. */
    readonly reason: string,
  ) {
    super(`the daemon's answer to ${request} does not match the API contract: ${describeIssue({ path, reason }, 'the answer')}; are the CLI and the daemon the same version?`);
    this.name = 'ContractViolationError';
  }
}

/** The value if it matches the schema; a {@link ContractViolationError} naming the first bad location otherwise. */
function conforming<S extends TSchema>(schema: S, value: unknown, request: string): Static<S> {
  const [first] = contractIssues(schema, value);
  if (first) throw new ContractViolationError(request, first.path, first.reason);
  return value;
}

/** A log stream that broke off before its end: the output received so far is incomplete. */
export class LogStreamError extends Error {
  readonly code = 'LogStreamBroken';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'LogStreamError';
  }
}

/** Arguments of {@link ApiClient.logs}. */
export interface LogsOptions {
  /** Only this revision (name or number). */
  revision?: string;
  /** Keep streaming new lines until `signal` aborts. */
  follow?: boolean;
  /** The last this many lines of each instance. */
  tailLines?: number;
  /** Only lines written since this time (epoch ms). */
  sinceMs?: number;
  /** Stops the stream (a follow ends quietly). */
  signal?: AbortSignal;
}

/** A signal that aborts when either does (AbortSignal.any, which the console's older browsers lack). */
function eitherSignal(a: AbortSignal, b: AbortSignal): AbortSignal {
  const both = new AbortController();
  for (const s of [a, b]) {
    if (s.aborted) both.abort();
    else s.addEventListener('abort', () => both.abort(), { once: true });
  }
  return both.signal;
}

/** See the `answerTimeoutMs` option of {@link ApiClient}. */
export const DAEMON_ANSWER_TIMEOUT_MS = 60_000;

/** A client bound to one daemon. */
export class ApiClient {
  constructor(
    /** Base URL of the API; `''` in the console, which is served by the API itself. */
    readonly baseUrl: string,
    /** The bearer token (the CLI); absent in the console, whose session is a cookie. */
    private readonly token: string | undefined,
    readonly info?: DaemonInfo,
    private readonly options: {
      /** The console session's CSRF token, sent on every change. */
      csrfToken?: () => string | undefined;
      /** How to start the daemon again (the CLI: `graylane up -f FILE`), said when it cannot be reached. */
      startCommand?: string;
      /**
       * How long a call may wait for the daemon's whole answer (a stream: for its start), default
       * {@link DAEMON_ANSWER_TIMEOUT_MS}: a daemon that is stopped (SIGSTOP) or stuck keeps its
       * socket open, and a command would otherwise wait for fetch's own 5 minutes.
       */
      answerTimeoutMs?: number;
    } = {},
  ) {}

  /**
   * Sends a request and decodes the JSON answer, checked against `schema` (the endpoint's
   * response in the contract): a mismatch is a {@link ContractViolationError}.
   */
  async request<S extends TSchema>(method: 'GET' | 'POST', path: string, schema: S, body?: unknown): Promise<Static<S>> {
    const deadline = this.deadline();
    let text: string;
    let res: Response;
    try {
      res = await this.fetch(method, path, body, { signal: deadline.signal });
      text = await res.text();
    } catch (err) {
      throw deadline.signal.aborted ? this.noAnswer() : err;
    } finally {
      deadline.clear();
    }
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : {};
    } catch {
      throw new ApiError('BadResponse', `the daemon answered ${res.status} with something that is not JSON`, res.status);
    }
    if (!res.ok) {
      // An error answer without the contract's shape still says its status.
      const e = contractIssues(ErrorBodySchema, json).length === 0 ? (json as Static<typeof ErrorBodySchema>).error : undefined;
      throw new ApiError(e?.code ?? 'Error', e?.message ?? `HTTP ${res.status}`, res.status, e?.details ?? []);
    }
    return conforming(schema, json, `${method} ${path}`);
  }

  /** An abort signal that fires after the answer timeout, and the way to call it off. */
  private deadline(): { signal: AbortSignal; clear: () => void } {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), this.options.answerTimeoutMs ?? DAEMON_ANSWER_TIMEOUT_MS);
    return { signal: controller.signal, clear: () => clearTimeout(timer) };
  }

  private noAnswer(): DaemonUnreachableError {
    const seconds = (this.options.answerTimeoutMs ?? DAEMON_ANSWER_TIMEOUT_MS) / 1000;
    return new DaemonUnreachableError(
      `the graylane daemon at ${this.baseUrl}${this.info ? ` (pid ${this.info.pid})` : ''} took its connection but gave no answer within ${seconds} s: it is stopped (kill -CONT resumes it) or stuck.`,
    );
  }

  /**
   * Fetch for an answer that streams: the deadline holds until the answer starts, then the
   * caller's `signal` alone ends it.
   */
  private async fetchStream(path: string, init: { signal?: AbortSignal | undefined; accept?: string }): Promise<Response> {
    const deadline = this.deadline();
    try {
      return await this.fetch('GET', path, undefined, { accept: init.accept, signal: init.signal === undefined ? deadline.signal : eitherSignal(init.signal, deadline.signal) });
    } catch (err) {
      throw deadline.signal.aborted && init.signal?.aborted !== true ? this.noAnswer() : err;
    } finally {
      deadline.clear();
    }
  }

  /** Raw fetch with the token; maps connection failures to DaemonUnreachableError. */
  async fetch(method: string, path: string, body?: unknown, init: { signal?: AbortSignal | undefined; accept?: string | undefined } = {}): Promise<Response> {
    try {
      return await fetch(`${this.baseUrl}${path}`, {
        method,
        headers: {
          ...(this.token === undefined ? {} : { authorization: `Bearer ${this.token}` }),
          ...(method === 'GET' ? {} : csrfHeader(this.options.csrfToken?.())),
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          ...(init.accept ? { accept: init.accept } : {}),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: init.signal,
      });
    } catch (err) {
      if (init.signal?.aborted) throw err;
      throw new DaemonUnreachableError(
        `cannot reach the graylane daemon at ${this.baseUrl}${this.info ? ` (pid ${this.info.pid})` : ''}: is \`graylane up\` still running? Start it again${this.startAgain()}; running apps are re-adopted.`,
      );
    }
  }

  /** Whether the daemon answers its health check (it may be gone after a failed call). */
  async healthy(): Promise<boolean> {
    try {
      return (await fetch(`${this.baseUrl}/v1/health`, { signal: AbortSignal.timeout(2_000) })).ok;
    } catch {
      return false;
    }
  }

  /** Validates and applies an App file as one unit. */
  apply(text: string, file: string, options: { prune?: boolean } = {}): Promise<ApplyResult> {
    return this.request('POST', '/v1/apply', ApplyResultSchema, { text, file, ...(options.prune ? { prune: true } : {}) });
  }
  /** Every service and release with its view. */
  list(): Promise<{ services: ServiceView[] }> { return this.request('GET', '/v1/services', ServiceListSchema); }
  /** The single host's data plane: where the router runs, its workers and their deaths. */
  dataPlane(): Promise<DataPlaneView> { return this.request('GET', '/v1/data-plane', DataPlaneViewSchema); }
  /** One service's (or release's) view. */
  get(name: string): Promise<ServiceView> { return this.request('GET', `/v1/services/${encodeURIComponent(name)}`, ServiceViewSchema); }
  /** Revisions of a service, newest first. */
  history(name: string, options: { showEnv?: boolean } = {}): Promise<{ revisions: RevisionView[] }> {
    return this.request('GET', `/v1/services/${encodeURIComponent(name)}/history${options.showEnv ? '?showEnv=true' : ''}`, HistorySchema);
  }
  /** Analysis runs of a service, newest first. */
  analysis(name: string): Promise<{ runs: AnalysisRunView[] }> { return this.request('GET', `/v1/services/${encodeURIComponent(name)}/analysis`, AnalysisListSchema); }
  /** Events, oldest first. */
  events(service?: string): Promise<{ events: EventView[] }> {
    return this.request('GET', `/v1/events${service ? `?service=${encodeURIComponent(service)}` : ''}`, EventListSchema);
  }

  /** The console's session, if its cookie is still good (401 otherwise). */
  session(): Promise<SessionView> { return this.request('GET', '/v1/session', SessionSchema); }
  /** Signs the console in with the daemon's token (or the dashboard's code); the session id comes back as an HttpOnly cookie. */
  signIn(token: string): Promise<SessionView> { return this.request('POST', '/v1/session', SessionSchema, { token }); }
  /** Ends the console's session. */
  async signOut(): Promise<void> { await this.fetch('POST', '/v1/session/end', {}); }
  /** The figures of the last minutes per revision, oldest first. */
  series(name: string): Promise<SeriesView> { return this.request('GET', `/v1/services/${encodeURIComponent(name)}/series`, SeriesSchema); }
  /** The rollout's plan and where it is on it. */
  plan(name: string): Promise<PlanView> { return this.request('GET', `/v1/services/${encodeURIComponent(name)}/plan`, PlanViewSchema); }

  /** Runs an operation on a service or release; with `expectedVersion`, only if the status is still that version (else 409). */
  operate(name: string, op: Operation, options: { expectedVersion?: number | undefined } = {}): Promise<ServiceView> {
    const { path, body } = requestOf(op, options.expectedVersion);
    return this.request('POST', `/v1/services/${encodeURIComponent(name)}/${path}`, ServiceViewSchema, body);
  }

  /**
   * Streams a service's log text as it arrives (bounded memory whatever the log's size). An error
   * answer is an {@link ApiError}; a stream that breaks off is a {@link LogStreamError}.
   */
  async *logs(name: string, options: LogsOptions = {}): AsyncGenerator<string> {
    const q = new URLSearchParams();
    if (options.revision) q.set('revision', options.revision);
    if (options.follow) q.set('follow', '1');
    if (options.tailLines !== undefined) q.set('tail', String(options.tailLines));
    if (options.sinceMs !== undefined) q.set('since', String(Math.floor(options.sinceMs)));
    const res = await this.fetchStream(`/v1/services/${encodeURIComponent(name)}/logs?${q.toString()}`, { signal: options.signal });
    if (!res.ok || !res.body) {
      const text = await res.text();
      let e: { code?: string; message?: string } = {};
      try {
        e = (JSON.parse(text) as { error?: typeof e }).error ?? {};
      } catch {
        // Not JSON: the status says it.
      }
      throw new ApiError(e.code ?? 'Error', e.message ?? `logs failed with HTTP ${res.status}`, res.status);
    }
    const decoder = new TextDecoder();
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) yield decoder.decode(chunk, { stream: true });
    } catch (err) {
      if (options.signal?.aborted) return;
      const cause = err instanceof Error ? (err.cause instanceof Error ? err.cause.message : err.message) : String(err);
      throw new LogStreamError(`the log stream from the daemon broke off before its end (${cause}); the output above is incomplete`, { cause: err });
    }
    const rest = decoder.decode();
    if (rest) yield rest;
  }

  /** Follows server-sent events until the signal aborts; yields parsed messages. */
  async *stream(options: { service?: string; signal?: AbortSignal } = {}): AsyncGenerator<{ type: string; data: unknown }> {
    const res = await this.fetchStream(`/v1/events${options.service ? `?service=${encodeURIComponent(options.service)}` : ''}`, {
      signal: options.signal,
      accept: 'text/event-stream',
    });
    if (!res.ok || !res.body) throw new ApiError('StreamFailed', `event stream answered ${res.status}`, res.status);
    const decoder = new TextDecoder();
    let buffer = '';
    for await (const chunk of this.chunks(res, options.signal)) {
      buffer += decoder.decode(chunk, { stream: true });
      let cut: number;
      while ((cut = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        let type = 'message';
        let data = '';
        for (const line of block.split('\n')) {
          if (line.startsWith('event: ')) type = line.slice(7);
          else if (line.startsWith('data: ')) data += line.slice(6);
        }
        if (!data) continue;
        const parsed = JSON.parse(data) as unknown;
        // The contract's messages are checked; others (a newer daemon's) pass through for the caller to skip.
        if (type === 'event') yield { type, data: conforming(EventViewSchema, parsed, 'the event stream') };
        else if (type === 'status') yield { type, data: conforming(ServiceViewSchema, parsed, 'the event stream') };
        else yield { type, data: parsed };
      }
    }
    // The daemon never ends an event stream on its own: an end the caller did not ask for means it stopped.
    if (!options.signal?.aborted) throw this.wentAway();
  }

  /**
   * The body of a streamed answer, chunk by chunk, until it ends or `signal` aborts (then it just
   * stops). A connection that breaks mid-body (the daemon stopped or was killed) becomes
   * {@link DaemonUnreachableError}, not undici's `TypeError: terminated`.
   */
  async *chunks(res: Response, signal?: AbortSignal): AsyncGenerator<Uint8Array> {
    if (!res.body) return;
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) yield chunk;
    } catch (err) {
      if (signal?.aborted) return;
      if (err instanceof TypeError || (err as { code?: unknown }).code !== undefined) throw this.wentAway();
      throw err;
    }
  }

  /** The error of a daemon that stopped answering mid-conversation (exit 3 in the CLI). */
  wentAway(): DaemonUnreachableError {
    return new DaemonUnreachableError(
      `the graylane daemon at ${this.baseUrl}${this.info ? ` (pid ${this.info.pid})` : ''} went away: is \`graylane up\` still running? Start it again${this.startAgain()}; running apps are re-adopted.`,
    );
  }

  private startAgain(): string {
    return this.options.startCommand ? ` with \`${this.options.startCommand}\`` : '';
  }
}

function csrfHeader(token: string | undefined): Record<string, string> {
  return token === undefined ? {} : { [CSRF_HEADER]: token };
}
