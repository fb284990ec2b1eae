import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deadUrl, hang, json, startServer, type TestServer } from '../../../test/fixtures/metrics/http-server.js';
import { describeProviderConformance, metricOf } from '../provider.case.test.js';
import { ProviderError } from '../provider.js';
import { WebMetricProvider } from './web-provider.js';

describeProviderConformance('web', async () => {
  const server = await startServer({ '/ok': json({ data: { ratio: 0.99 } }), '/slow': hang });
  return {
    provider: new WebMetricProvider(),
    good: metricOf({ web: { url: `${server.url}/ok`, jsonPath: '$.data.ratio' } }),
    failing: metricOf({ web: { url: `${await deadUrl()}/ok` } }),
    invalid: metricOf({ web: { url: 'not a url' } }),
    slow: metricOf({ web: { url: `${server.url}/slow`, timeoutSeconds: 1 } }),
    teardown: () => server.close(),
  };
});

describe('web provider', () => {
  let server: TestServer;
  const provider = new WebMetricProvider();
  const measure = (web: Record<string, unknown>) =>
    provider.measure({ metric: metricOf({ web }), args: {}, signal: new AbortController().signal, now: Date.now() });
  beforeAll(async () => {
    server = await startServer({
      '/data': json({ data: { ok: true, items: [{ v: 1 }, { v: 2 }] } }),
      '/echo': (_req, body, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(body),
      '/text': (_req, _body, res) => res.writeHead(200).end('up'),
      '/down': json({ error: 'db' }, 503),
    });
  });
  afterAll(() => server.close());

  it.each([
    ['$.data.ok', true],
    ['{$.data.ok}', true],
    ['$.data.items[*].v', [1, 2]],
    ['$.data.items[?(@.v > 1)].v', 2],
  ] as const)('jsonPath %s → %j', async (jsonPath, value) => {
    expect((await measure({ url: `${server.url}/data`, jsonPath })).value).toEqual(value);
  });

  it('without jsonPath the whole JSON (or the text) is the result', async () => {
    expect((await measure({ url: `${server.url}/data` })).value).toMatchObject({ data: { ok: true } });
    expect((await measure({ url: `${server.url}/text` })).value).toBe('up');
  });

  it('POSTs a jsonBody with headers, PUTs a raw body', async () => {
    const r = await measure({ url: `${server.url}/echo`, method: 'POST', jsonBody: { q: 1 }, headers: [{ key: 'Authorization', value: 'Bearer t' }], jsonPath: '$.q' });
    expect(r.value).toBe(1);
    const seen = server.seen.at(-1)!;
    expect(seen).toMatchObject({ method: 'POST', body: '{"q":1}' });
    expect(seen.headers.authorization).toBe('Bearer t');
    expect(seen.headers['content-type']).toBe('application/json');
    await measure({ url: `${server.url}/echo`, method: 'PUT', body: 'raw' });
    expect(server.seen.at(-1)).toMatchObject({ method: 'PUT', body: 'raw' });
  });

  it.each([
    ['a non-2xx status', { url: '/down' }, 'bad-status'],
    ['a jsonPath matching nothing', { url: '/data', jsonPath: '$.nope' }, 'no-data'],
    ['a jsonPath into text', { url: '/text', jsonPath: '$.x' }, 'bad-response'],
    ['a body on GET', { url: '/echo', body: 'x' }, 'invalid-config'],
    ['body and jsonBody', { url: '/echo', method: 'POST', body: 'x', jsonBody: {} }, 'invalid-config'],
    ['a non-http URL', { url: 'file:///etc/passwd', absolute: true }, 'invalid-config'],
  ] as const)('%s is a ProviderError %s', async (_what, cfg, code) => {
    const { absolute, url, ...rest } = cfg as { absolute?: boolean; url: string };
    const err = await measure({ ...rest, url: absolute ? url : `${server.url}${url}` }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProviderError);
    expect((err as ProviderError).code).toBe(code);
  });
});
