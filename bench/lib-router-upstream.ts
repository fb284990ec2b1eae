/**
 * Benchmark upstream, run as its own process: a minimal keep-alive HTTP server answering a small
 * fixed body. Prints `{"port":N}` on stdout once listening.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

const body = Buffer.from('hello from the upstream\n');
const server = http.createServer((req, res) => {
  req.resume();
  res.writeHead(200, { 'content-type': 'text/plain', 'content-length': body.length });
  res.end(body);
});
server.keepAliveTimeout = 120_000;
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ port: (server.address() as AddressInfo).port })}\n`);
});
process.on('SIGTERM', () => process.exit(0));
