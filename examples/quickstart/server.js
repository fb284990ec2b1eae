// The five-minute tour's app: one HTTP server that says which version answered.
// PORT and VERSION come from the environment; FAIL_RATE (0..1) makes a broken version.
import { createServer } from 'node:http';

const port = Number(process.env.PORT ?? 8000);
const version = process.env.VERSION || 'v1';
const failRate = Number(process.env.FAIL_RATE ?? 0);
let requests = 0;
let failed = 0;
let draining = false;

const server = createServer((req, res) => {
  res.setHeader('x-served-by', `hello@${version}`);
  if (draining) res.setHeader('connection', 'close');
  if (req.url === '/healthz') {
    res.writeHead(draining ? 503 : 200, { 'content-type': 'text/plain' });
    res.end(draining ? 'draining\n' : 'ok\n');
    return;
  }
  requests += 1;
  if (Math.floor(requests * failRate) > failed) {
    failed += 1;
    res.writeHead(500, { 'content-type': 'text/plain' });
    res.end(`hello ${version} failed on purpose\n`);
    return;
  }
  res.writeHead(200, { 'content-type': 'text/plain' });
  res.end(`hello from ${version}\n`);
});

process.on('SIGTERM', () => {
  // Stop accepting, let in-flight requests finish, then exit.
  draining = true;
  server.close(() => process.exit(0));
  server.closeIdleConnections();
  setTimeout(() => process.exit(1), 10_000).unref();
});

server.listen(port, '127.0.0.1', () => {
  console.log(`hello@${version} listening on http://127.0.0.1:${server.address().port}`);
});
