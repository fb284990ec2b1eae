import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { ApiBackend } from './api-backend.js';
import { defaultConsoleDir } from './console-static.js';
import { startApiServer, type ApiServer } from './server.js';

const backend: ApiBackend = {
  list: () => [], get: () => { throw new Error('unused'); }, operate: () => Promise.reject(new Error('unused')),
  history: () => [], analysis: () => [], events: () => [], subscribe: () => () => undefined,
};

let base: string;
let dir: string;
let server: ApiServer;
const INDEX = '<!doctype html><html><head><script type="module" src="/assets/index-abc123.js"></script></head><body><div id="root"></div></body></html>\n';
const SCRIPT = `export const answer = ${JSON.stringify('x'.repeat(4000))};\n`;

beforeAll(() => {
  base = mkdtempSync(join(tmpdir(), 'graylane-console-'));
  dir = join(base, 'console');
  mkdirSync(join(dir, 'assets'), { recursive: true });
  writeFileSync(join(dir, 'index.html'), INDEX);
  writeFileSync(join(dir, 'assets', 'index-abc123.js'), SCRIPT);
  writeFileSync(join(dir, 'assets', 'index-abc123.css'), 'body{margin:0}');
  writeFileSync(join(dir, 'assets', 'logo-1.svg'), '<svg xmlns="http://www.w3.org/2000/svg"/>');
  writeFileSync(join(dir, 'assets', 'font-1.woff2'), Buffer.from([0x77, 0x4f, 0x46, 0x32]));
  writeFileSync(join(dir, 'assets', 'pic-1.png'), Buffer.from([0x89, 0x50, 0x4e, 0x47]));
  writeFileSync(join(dir, 'assets', 'index-abc123.js.map'), '{}');
  writeFileSync(join(dir, 'manifest.json'), '{}');
  // Beside the console's directory: what a traversal would reach.
  writeFileSync(join(base, 'secret.txt'), 'not for the browser');
});
afterAll(() => rmSync(base, { recursive: true, force: true }));
beforeEach(async () => {
  server = await startApiServer({ backend, token: 't', consoleDir: dir });
});
afterEach(() => server.close());

/** A GET sent as written: fetch would normalize `..` away before it left. */
function rawGet(path: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }> {
  const { hostname, port } = new URL(server.url);
  return new Promise((resolve, reject) => {
    const req = request({ host: hostname, port, path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('the console\'s files', () => {
  it('serves hashed assets as immutable for a year and index.html as no-cache', async () => {
    const asset = await rawGet('/assets/index-abc123.js');
    expect(asset.status).toBe(200);
    expect(asset.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect(asset.body.toString()).toBe(SCRIPT);
    const index = await rawGet('/');
    expect(index.headers['cache-control']).toBe('no-cache');
    expect(index.body.toString()).toBe(INDEX);
  });

  it('answers index.html for the console\'s own routes, and 404 for a missing asset', async () => {
    for (const path of ['/services/web', '/releases/shop', '/sign-in', '/index.html']) {
      const page = await rawGet(path);
      expect(page.status, path).toBe(200);
      expect(page.headers['content-type'], path).toBe('text/html; charset=utf-8');
      expect(page.body.toString(), path).toBe(INDEX);
    }
    const missing = await rawGet('/assets/index-old999.js');
    expect(missing.status).toBe(404);
    expect(missing.headers['content-type']).toBe('text/plain; charset=utf-8');
  });

  it.each([
    ['/assets/index-abc123.js', 'text/javascript; charset=utf-8'],
    ['/assets/index-abc123.css', 'text/css; charset=utf-8'],
    ['/assets/logo-1.svg', 'image/svg+xml'],
    ['/assets/font-1.woff2', 'font/woff2'],
    ['/assets/pic-1.png', 'image/png'],
    ['/assets/index-abc123.js.map', 'application/json; charset=utf-8'],
    ['/manifest.json', 'application/json; charset=utf-8'],
  ])('serves %s as %s', async (path, type) => {
    const answer = await rawGet(path);
    expect(answer.status).toBe(200);
    expect(answer.headers['content-type']).toBe(type);
  });

  it.each([
    '/assets/..%2f..%2fsecret.txt',
    '/..%2fsecret.txt',
    '/assets/%2e%2e%2f%2e%2e%2fsecret.txt',
    '/%2e%2e%2fsecret.txt',
  ])('refuses %s, which leads outside the directory', async (path) => {
    const answer = await rawGet(path);
    expect(answer.status).toBe(400);
    expect(answer.body.toString()).not.toContain('not for the browser');
  });

  it.each(['/../secret.txt', '/assets/../../secret.txt', '/%2e%2e/secret.txt', '/assets/%2E%2E/%2e%2e/secret.txt'])('keeps %s inside the directory (the URL\'s dots are resolved first)', async (path) => {
    const answer = await rawGet(path);
    expect(answer.body.toString()).not.toContain('not for the browser');
  });

  it('compresses with gzip when asked, and the answer decodes to the file; brotli when asked for it', async () => {
    const gz = await rawGet('/assets/index-abc123.js', { 'accept-encoding': 'gzip, deflate' });
    expect(gz.headers['content-encoding']).toBe('gzip');
    expect(gz.headers.vary).toBe('Accept-Encoding');
    expect(gz.body.length).toBeLessThan(SCRIPT.length / 10);
    expect(gunzipSync(gz.body).toString()).toBe(SCRIPT);
    const br = await rawGet('/assets/index-abc123.js', { 'accept-encoding': 'gzip, deflate, br' });
    expect(br.headers['content-encoding']).toBe('br');
    expect(brotliDecompressSync(br.body).toString()).toBe(SCRIPT);
    const plain = await rawGet('/assets/index-abc123.js', { 'accept-encoding': 'gzip;q=0' });
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(plain.body.toString()).toBe(SCRIPT);
  });

  it('answers 304 to If-None-Match with the ETag it gave, and the file again when it changed', async () => {
    const first = await rawGet('/', { 'accept-encoding': 'gzip' });
    const etag = first.headers.etag as string;
    expect(etag).toMatch(/^".+"$/);
    const again = await rawGet('/', { 'accept-encoding': 'gzip', 'if-none-match': etag });
    expect(again.status).toBe(304);
    expect(again.body.length).toBe(0);
    const changed = `${INDEX}<!-- rebuilt -->\n`;
    writeFileSync(join(dir, 'index.html'), changed);
    try {
      const rebuilt = await rawGet('/', { 'if-none-match': etag });
      expect(rebuilt.status).toBe(200);
      expect(rebuilt.body.toString()).toBe(changed);
    } finally {
      writeFileSync(join(dir, 'index.html'), INDEX);
    }
  });

  it('leaves the API its own answers: an unknown /v1 path is a JSON 404 (after the token), not the page', async () => {
    const answer = await rawGet('/v1/nothing-here', { authorization: 'Bearer t' });
    expect(answer.status).toBe(404);
    expect(answer.headers['content-type']).toBe('application/json; charset=utf-8');
    expect((await rawGet('/openapi.json')).headers['content-type']).toBe('application/json; charset=utf-8');
  });

  it('says to run npm run build when the console was not built', async () => {
    const bare = await startApiServer({ backend, token: 't', consoleDir: join(base, 'not-built') });
    try {
      const res = await fetch(`${bare.url}/`);
      expect(res.status).toBe(503);
      expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
      expect(await res.text()).toContain('Run <code>npm run build</code>');
    } finally {
      await bare.close();
    }
  });

  it('finds the package\'s dist/console by default', () => {
    expect(defaultConsoleDir()).toBe(join(process.cwd(), 'dist', 'console'));
  });
});
