/**
 * Benchmark reference, run as its own process: the most a node process can forward without an
 * HTTP server, in front of one upstream address (argv[2]). Raw sockets both sides, one kept-alive
 * upstream connection per client connection, the request head passed on with `X-Forwarded-For`
 * added, the response framed by its Content-Length and written back in one piece. It is a
 * ceiling, not a proxy: a request with a body or a response without a Content-Length is refused
 * (501, connection closed), and nothing is checked or routed. The distance from a router row to
 * this one is what node:http's server side costs that router (graylane's reads its upstreams with
 * a client of its own already). Prints `{"url":...}` on stdout once serving; stops on SIGTERM.
 */
import net, { type AddressInfo } from 'node:net';

const address = process.argv[2];
if (!address) throw new Error('usage: lib-raw-node-proxy.ts HOST:PORT');
const [host = '', port = ''] = address.split(':');
const HEAD_END = Buffer.from('\r\n\r\n');
const REFUSED = 'HTTP/1.1 501 Not Implemented\r\ncontent-length: 0\r\nconnection: close\r\n\r\n';

/** Where a head (latin1, lower-cased or not) declares a framing this reference does not carry. */
function framingOf(head: string): { length: number } | 'unframed' {
  const lower = head.toLowerCase();
  if (lower.includes('\r\ntransfer-encoding:')) return 'unframed';
  const at = lower.indexOf('\r\ncontent-length:');
  if (at < 0) return { length: 0 };
  const length = Number.parseInt(lower.slice(at + 17), 10);
  return Number.isNaN(length) ? 'unframed' : { length };
}

const server = net.createServer({ noDelay: true }, (client) => {
  const upstream = net.connect({ host, port: Number(port), noDelay: true });
  let fromClient: Buffer | undefined;
  let fromUpstream: Buffer | undefined;
  const close = () => {
    client.destroy();
    upstream.destroy();
  };
  client.on('data', (chunk: Buffer) => {
    fromClient = fromClient ? Buffer.concat([fromClient, chunk]) : chunk;
    for (let end = fromClient.indexOf(HEAD_END); end >= 0; end = fromClient.indexOf(HEAD_END)) {
      const head = fromClient.toString('latin1', 0, end);
      const framing = framingOf(head);
      if (framing === 'unframed' || framing.length > 0) {
        client.end(REFUSED);
        upstream.destroy();
        return;
      }
      upstream.write(`${head}\r\nx-forwarded-for: ${client.remoteAddress ?? ''}\r\n\r\n`, 'latin1');
      if (end + 4 === fromClient.length) {
        fromClient = undefined;
        return;
      }
      fromClient = fromClient.subarray(end + 4);
    }
  });
  upstream.on('data', (chunk: Buffer) => {
    fromUpstream = fromUpstream ? Buffer.concat([fromUpstream, chunk]) : chunk;
    for (let end = fromUpstream.indexOf(HEAD_END); end >= 0; end = fromUpstream.indexOf(HEAD_END)) {
      const framing = framingOf(fromUpstream.toString('latin1', 0, end));
      if (framing === 'unframed') {
        client.end(REFUSED);
        upstream.destroy();
        return;
      }
      const total = end + 4 + framing.length;
      if (fromUpstream.length < total) return;
      client.write(fromUpstream.subarray(0, total));
      if (total === fromUpstream.length) {
        fromUpstream = undefined;
        return;
      }
      fromUpstream = fromUpstream.subarray(total);
    }
  });
  client.on('error', close);
  upstream.on('error', close);
  client.on('close', close);
  upstream.on('close', close);
});
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` })}\n`);
});
process.on('SIGTERM', () => process.exit(0));
