import { afterEach, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApiClient, ApiError, ContractViolationError, DaemonUnreachableError } from './client.js';

let server: Server | undefined;
afterEach(() => new Promise<void>((resolve) => {
  server?.closeAllConnections();
  return server ? server.close(() => resolve()) : resolve();
}));

/** A stand-in daemon that takes every connection and never answers (stopped with SIGSTOP, or stuck); `streamFirst`: it starts an event stream, then says nothing. */
async function silentDaemon(options: { streamFirst?: boolean } = {}): Promise<ApiClient> {
  server = createServer((req, res) => {
    if (options.streamFirst && req.url?.startsWith('/v1/events')) res.writeHead(200, { 'content-type': 'text/event-stream' }).flushHeaders();
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', () => resolve()));
  return new ApiClient(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, 'token', { pid: 4242 } as never, { answerTimeoutMs: 300 });
}

/** A stand-in daemon on loopback answering every request with `status` and `body` as they are. */
async function daemon(status: number, body: string, contentType = 'application/json'): Promise<ApiClient> {
  server = createServer((_req, res) => {
    res.writeHead(status, { 'content-type': contentType });
    res.end(body);
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', () => resolve()));
  return new ApiClient(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, 'token');
}

const view = {
  name: 'api', namespace: 'default', kind: 'service', phase: 'Healthy', strategy: 'canary', step: 0, steps: 2, message: 'healthy',
  done: true, terminal: true, revisions: [], analysis: [], aborted: false, pauseReasons: [],
};

describe('the API client', () => {
  it('accepts an answer that matches the contract', async () => {
    const client = await daemon(200, JSON.stringify(view));
    expect(await client.get('api')).toEqual(view);
  });

  it('reads the revisions of a daemon started by an earlier graylane, which sends no unreadyServed', async () => {
    const earlier = { ...view, revisions: [{ name: 'a', number: 1, role: 'stable', weight: 100, ready: 1, total: 1, requestsPerSecond: 0, errorRate: 0, p99Ms: null, fallbacks: 0, instances: [] }] };
    const client = await daemon(200, JSON.stringify(earlier));
    expect(await client.get('api')).toEqual(earlier);
  });

  const malformed: [string, unknown, string, string][] = [
    ['a phase the contract does not know', { ...view, phase: 'Exploded' }, '/phase', 'must be equal to constant'],
    ['a view without done', { ...view, done: undefined }, '/done', 'is required'],
    ['a revision with a text weight', { ...view, revisions: [{ name: 'a', number: 1, role: 'stable', weight: '100', ready: 1, total: 1, requestsPerSecond: 0, errorRate: 0, p99Ms: null, fallbacks: 0, instances: [] }] }, '/revisions/0/weight', 'must be number'],
  ];
  it.each(malformed)('rejects %s with a typed error naming the path', async (_what, body, path, reason) => {
    const client = await daemon(200, JSON.stringify(body));
    const err = await client.get('api').then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(ContractViolationError);
    expect(err).toMatchObject({ code: 'BadResponse', request: 'GET /v1/services/api', path, reason });
    expect((err as Error).message).toContain(`${path} ${reason}`);
  });

  it('rejects a malformed list, history and operation answer too', async () => {
    const client = await daemon(200, JSON.stringify({ services: [{ name: 'api' }] }));
    await expect(client.list()).rejects.toMatchObject({ path: '/services/0/namespace', reason: 'is required' });
    await expect(client.history('api')).rejects.toMatchObject({ path: '/revisions', reason: 'is required' });
    await expect(client.operate('api', { type: 'pause' })).rejects.toBeInstanceOf(ContractViolationError);
  });

  it('turns an error answer into an ApiError with its code, sentence and details', async () => {
    const client = await daemon(422, JSON.stringify({ error: { code: 'ValidationFailed', message: 'graylane.yaml is invalid', details: ['line 3: bad'] } }));
    await expect(client.apply('x', 'graylane.yaml')).rejects.toMatchObject({ constructor: ApiError, code: 'ValidationFailed', status: 422, message: 'graylane.yaml is invalid', details: ['line 3: bad'] });
  });

  it('keeps the status of an error answer that is not the contract\'s shape', async () => {
    const client = await daemon(502, JSON.stringify({ oops: true }));
    await expect(client.get('api')).rejects.toMatchObject({ constructor: ApiError, code: 'Error', status: 502, message: 'HTTP 502' });
  });

  it('rejects a streamed status message that does not match the contract', async () => {
    const client = await daemon(200, `event: status\ndata: ${JSON.stringify({ ...view, terminal: 'yes' })}\n\n`, 'text/event-stream');
    const read = async () => {
      for await (const _ of client.stream({ service: 'api' })) { /* the first message throws */ }
    };
    await expect(read()).rejects.toMatchObject({ constructor: ContractViolationError, request: 'the event stream', path: '/terminal', reason: 'must be boolean' });
  });

  it('gives up on a daemon that takes the connection but never answers, after its answer timeout, saying what that means', async () => {
    const client = await silentDaemon();
    const started = performance.now();
    const error = await client.get('api').then(() => undefined, (e: unknown) => e);
    expect(performance.now() - started).toBeLessThan(5_000);
    expect(error).toBeInstanceOf(DaemonUnreachableError);
    expect((error as Error).message).toBe(`the graylane daemon at ${client.baseUrl} (pid 4242) took its connection but gave no answer within 0.3 s: it is stopped (kill -CONT resumes it) or stuck.`);
    await expect(client.stream({ service: 'api' }).next()).rejects.toBeInstanceOf(DaemonUnreachableError);
  });

  it('lets a stream that has started run past the answer timeout, until its caller ends it', async () => {
    const client = await silentDaemon({ streamFirst: true });
    const abort = new AbortController();
    const reading = client.stream({ service: 'api', signal: abort.signal }).next();
    await new Promise((r) => setTimeout(r, 900));
    abort.abort();
    // Ended by its caller, not by the timeout: done, with no error.
    await expect(reading).resolves.toMatchObject({ done: true });
  });
});
