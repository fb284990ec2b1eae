/**
 * Benchmark reference, run as its own process: the least a reverse proxy built on `node:http` and
 * undici does per request (node's usual HTTP stack), in front of one upstream address (argv[2]).
 * No routing, no counting, no timeouts of its own, no retries. graylane's router reads its
 * upstreams with a client of its own (src/router/upstream/): a router row below this one costs
 * more than the stack; above it, leaving undici gained more than the router's work costs.
 * Prints `{"url":...}` on stdout once serving; stops on SIGTERM.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Client } from 'undici';

const address = process.argv[2];
if (!address) throw new Error('usage: lib-node-floor-proxy.ts HOST:PORT');
const origin = `http://${address}`;
// One request per connection at a time, reused last-in first-out, as graylane's pool does.
const idle: Client[] = [];
const hopByHop = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'proxy-connection', 'te', 'trailer']);

const server = http.createServer((req, res) => {
  const client = idle.pop() ?? new Client(origin, { pipelining: 1, connect: { noDelay: true } });
  const headers: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(req.headers)) if (value !== undefined && !hopByHop.has(name)) headers[name] = value;
  const hasBody = req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined;
  client
    .request({ method: req.method as 'GET', path: req.url ?? '/', headers, body: hasBody ? req : null })
    .then(async (upstream) => {
      const out: Record<string, string | string[]> = {};
      for (const [name, value] of Object.entries(upstream.headers)) if (value !== undefined && !hopByHop.has(name)) out[name] = value;
      res.writeHead(upstream.statusCode, out);
      for await (const chunk of upstream.body) res.write(chunk as Buffer);
      res.end();
      idle.push(client);
    })
    .catch(() => {
      void client.destroy().catch(() => undefined);
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
});
server.keepAliveTimeout = 120_000;
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` })}\n`);
});
process.on('SIGTERM', () => process.exit(0));
