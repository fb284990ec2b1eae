/**
 * Every answer the built-in router gives itself, rather than passing on an upstream's: the value
 * of its `x-graylane-error` header, the statuses it comes with, and what it means. Every place
 * that answers takes its reason from here (the types see to it), and the README's table of them
 * is this list (a test compares the two), so a client's operator can look up any such answer.
 */

/** One kind of answer: its statuses and what it means, as the README says it. */
export interface RouterAnswer {
  /** The HTTP statuses it is given with. */
  statuses: readonly number[];
  /** What it means, in a sentence for the README. */
  meaning: string;
}

/** The router's own answers, by reason (see the module comment). */
export const ROUTER_ANSWERS = {
  'router-starting': { statuses: [503], meaning: 'the router has not been given its first route table yet (the first moments of `graylane up`); retry after `Retry-After`' },
  'router-stopping': { statuses: [503], meaning: 'a WebSocket or other upgrade came on an open connection while the router stops (Ctrl-C, or a worker being replaced): reconnect after `Retry-After`' },
  'no-route': { statuses: [404], meaning: 'no service has the request\'s host and path prefix' },
  'no-ready-instance': { statuses: [503], meaning: 'the revision the request was routed to has no ready instance, and no other revision may take it' },
  overloaded: { statuses: [503], meaning: 'the instance picked is at its limit of concurrent requests and its queue is full (1,024 each by default)' },
  'upstream-connect-error': { statuses: [502], meaning: 'the instance refused the connection or could not be reached (after the one retry a request gets when repeating it is safe)' },
  'upstream-connect-timeout': { statuses: [504], meaning: 'connecting to the instance took longer than the connect timeout (2 s by default)' },
  'upstream-response-timeout': { statuses: [504], meaning: 'the instance did not begin its answer within the response timeout (30 s by default), or no slot on it came free that soon' },
  'upstream-idle-timeout': { statuses: [504], meaning: 'the instance stopped sending in the middle of its answer for the idle timeout (60 s by default)' },
  'upstream-timeout': { statuses: [504], meaning: 'a WebSocket or other upgrade: the instance did not answer the upgrade in time' },
  'upstream-reset': { statuses: [502], meaning: 'the instance closed the connection before it answered' },
  'upstream-bad-response': { statuses: [502], meaning: 'the instance\'s answer is not HTTP/1.1 the router will pass on (framed two ways, say, which could smuggle a second answer); the reason follows in the body' },
  'drain-deadline': { statuses: [504], meaning: 'the instance was taken out of service, and its drain deadline came before it answered' },
  'unforwardable-request': { statuses: [400], meaning: 'the request has a target or header value that cannot be written to an instance' },
  'duplicate-host': { statuses: [400], meaning: 'the request has more than one Host header' },
  'bad-request-target': { statuses: [400], meaning: 'the request target is neither a path nor an http(s) absolute URL' },
  'path-escapes-root': { statuses: [400], meaning: 'the path climbs above the root (`/..`) once decoded' },
  'body-too-large': { statuses: [413], meaning: 'the request body is over `spec.router.maxRequestBodyBytes` (1 GiB by default)' },
  'unsupported-transfer-coding': { statuses: [501], meaning: 'the request body has a transfer coding other than chunked' },
  'client-body-timeout': { statuses: [408], meaning: 'the client sent no body data for `spec.router.clientBodyTimeout`' },
  'header-timeout': { statuses: [408], meaning: 'the client did not send the request\'s headers within `spec.router.clientHeaderTimeout`' },
  'malformed-request': { statuses: [400, 431], meaning: 'the request is not valid HTTP, or its headers are too large (431)' },
} as const satisfies Record<string, RouterAnswer>;

/**
 * The body of `router-starting`: a data plane not yet told what it serves says it is early
 * rather than that the URL is wrong. The built-in router and the managed nginx answer alike.
 */
export const ROUTER_STARTING_TEXT = 'graylane: starting: no route table yet, retry shortly';

/** The value of `x-graylane-error` on an answer of the router's own. */
export type RouterAnswerReason = keyof typeof ROUTER_ANSWERS;

/** The README's table of the router's own answers, one row per reason. */
export function routerAnswersTable(): string {
  const rows = Object.entries(ROUTER_ANSWERS).map(([reason, a]: [string, RouterAnswer]) => `| \`${reason}\` | ${a.statuses.join(', ')} | ${a.meaning} |`);
  return ['| `x-graylane-error` | status | meaning |', '| --- | --- | --- |', ...rows].join('\n');
}
