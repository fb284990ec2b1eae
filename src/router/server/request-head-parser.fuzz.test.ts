/**
 * Differential fuzzing of parseRequestHead against llhttp, as node:http's server runs it: generated
 * request heads (valid ones, mutated) are sent, in random pieces, to a loopback node:http server
 * and given to parseRequestHead. Whatever parseRequestHead reads, node must read the same way
 * (method, target, version, fields, the `headers` object) or refuse; whatever the fast path would serve, node must have
 * read. Leaving a head to node:http is always allowed: node then parses it itself.
 */
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seededRandom } from '../../../test/fixtures/seeded-random.js';
import { fastPathRefusal } from './fast-path-request.js';
import { nodeHeaders } from './node-headers.js';
import { parseRequestHead } from './request-head-parser.js';

// FUZZ_CASES and FUZZ_SEED make a longer or another run locally; CI runs the defaults.
const CASES = Number(process.env.FUZZ_CASES ?? 500);
const SEED = Number(process.env.FUZZ_SEED ?? 0x4ead_2026);
const CONCURRENCY = 4;
/** How long node may take over one case before it counts as not having read a request. */
const CASE_TIMEOUT_MS = 1_000;

const random = seededRandom(SEED);
const int = (n: number): number => Math.floor(random() * n);
const pick = <T>(items: readonly T[]): T => items[int(items.length)]!;
const chance = (p: number): boolean => random() < p;

/** Bytes that tend to matter to a parser, and any byte. */
const INTERESTING = ['\r', '\n', ' ', '\t', ':', ';', '=', '"', ',', '/', '?', '#', '%', '\\', '\x00', '\x01', '\x7f', '\x80', '\xff', 'H', 'a', '0', '(', '@'];
const byte = (): string => (chance(0.7) ? pick(INTERESTING) : String.fromCharCode(int(256)));

const METHODS = ['GET', 'GET', 'GET', 'GET', 'GET', 'GET', 'HEAD', 'HEAD', 'POST', 'OPTIONS', 'DELETE', 'PURGE', 'M-SEARCH'];
const TARGETS = ['/', '/a/b', '/search?q=1&r=two', '/p%20q', '/a/../b', "/x;y=1,z=!$&'()*+", '/@user:pw', '/?', '//double'];
const HEADERS: [name: string, value: string][] = [
  ['Host', 'example.test'],
  ['Host', 'example.test:8080'],
  ['User-Agent', 'fuzz/1.0 (x11)'],
  ['Accept', '*/*'],
  ['Cookie', 'a=1; b="two"'],
  ['X-Empty', ''],
  ['Connection', 'keep-alive'],
  ['Connection', 'close'],
  ['If-None-Match', 'W/"etag"'],
];
/** Fields that leave a request to node:http, drawn less often. */
const HANDED_OFF: [name: string, value: string][] = [['Content-Length', '0'], ['Transfer-Encoding', 'chunked'], ['Upgrade', 'websocket'], ['Expect', '100-continue']];

function validHead(): string {
  const version = chance(0.9) ? 'HTTP/1.1' : 'HTTP/1.0';
  let out = `${pick(METHODS)} ${pick(TARGETS)} ${version}\r\n`;
  if (chance(0.9)) out += `Host:${chance(0.8) ? ' ' : ''}${pick(['example.test', 'h', 'example.test:8080'])}\r\n`;
  for (let i = int(4); i > 0; i--) {
    const [name, value] = chance(0.1) ? pick(HANDED_OFF) : pick(HEADERS);
    const cased = chance(0.3) ? name.toLowerCase() : name;
    out += `${cased}:${pick([' ', '', '  ', '\t'])}${value}${chance(0.1) ? pick([' ', '\t']) : ''}\r\n`;
  }
  return `${out}\r\n`;
}

/** [start, end) of each line before the empty one, CRLF excluded. */
function lines(s: string): [number, number][] {
  const out: [number, number][] = [];
  for (let at = 0; ; ) {
    const next = s.indexOf('\r\n', at);
    if (next <= at) return out;
    out.push([at, next]);
    at = next + 2;
  }
}

const MUTATIONS: ((s: string) => string)[] = [
  (s) => {
    const at = int(s.length + 1);
    return s.slice(0, at) + byte() + s.slice(at);
  },
  (s) => {
    const at = int(s.length);
    return s.slice(0, at) + s.slice(at + 1);
  },
  (s) => {
    const at = int(s.length);
    return s.slice(0, at) + byte() + s.slice(at + 1);
  },
  // A line ending swapped for LF, CR or LF CR.
  (s) => {
    const ends = lines(s).map(([, b]) => b);
    if (ends.length === 0) return s;
    const at = pick(ends);
    return s.slice(0, at) + pick(['\n', '\r', '\n\r']) + s.slice(at + 2);
  },
  // Whitespace before a colon, or a folded line.
  (s) => {
    const fields = lines(s).slice(1);
    if (fields.length === 0) return s;
    const [a, b] = pick(fields);
    if (chance(0.5)) {
      const colon = s.indexOf(':', a);
      return colon < 0 || colon > b ? s : `${s.slice(0, colon)}${pick([' ', '\t'])}${s.slice(colon)}`;
    }
    return `${s.slice(0, b)}\r\n${pick([' ', '\t'])}folded${s.slice(b)}`;
  },
  // A field line duplicated.
  (s) => {
    const fields = lines(s).slice(1);
    if (fields.length === 0) return s;
    const [a, b] = pick(fields);
    return `${s.slice(0, b + 2)}${s.slice(a, b)}\r\n${s.slice(b + 2)}`;
  },
  // Whitespace in the request line.
  (s) => {
    const space = s.indexOf(' ');
    return space < 0 ? s : s.slice(0, space) + pick(['  ', '\t', ' \t']) + s.slice(space + 1);
  },
];

function generated(): string {
  let s = validHead();
  if (chance(0.6)) for (let n = 1 + int(3); n > 0; n--) s = pick(MUTATIONS)(s);
  // Sometimes another request after it, as a pipelining client sends.
  return chance(0.1) ? s + 'GET /next HTTP/1.1\r\nHost: h\r\n\r\n' : s;
}

interface NodeRead {
  method: string | undefined;
  url: string | undefined;
  httpVersion: string;
  rawHeaders: string[];
  headers: http.IncomingHttpHeaders;
}

let server: http.Server;
let port: number;
/** Waiters by the client's local port, which the server sees as the remote one. */
const waiting = new Map<number, (read: NodeRead | 'refused') => void>();

beforeAll(async () => {
  // A missing Host is policy, not parsing (the fast path leaves such requests to node:http): node
  // would answer 400 without a 'request' event and go on to a pipelined next request.
  server = http.createServer({ requireHostHeader: false }, (req, res) => {
    waiting.get(req.socket.remotePort!)?.({ method: req.method, url: req.url, httpVersion: req.httpVersion, rawHeaders: req.rawHeaders, headers: req.headers });
    req.resume();
    res.writeHead(204, { connection: 'close' });
    res.end();
  });
  server.on('clientError', (_err, socket) => {
    const remote = (socket as net.Socket).remotePort;
    if (remote !== undefined) waiting.get(remote)?.('refused');
    socket.destroy();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

/** What node's server made of `wire`, sent in random pieces. */
function nodeReads(wire: Buffer, cuts: number[]): Promise<NodeRead | 'refused' | 'nothing'> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    let settled = false;
    const done = (r: NodeRead | 'refused' | 'nothing') => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (socket.localPort !== undefined) waiting.delete(socket.localPort);
      socket.destroy();
      resolve(r);
    };
    const timer = setTimeout(() => done('nothing'), CASE_TIMEOUT_MS);
    socket.on('error', () => done('refused'));
    socket.on('close', () => setTimeout(() => done('refused'), 50));
    socket.on('connect', () => {
      waiting.set(socket.localPort!, done);
      let at = 0;
      for (const cut of [...cuts, wire.length]) {
        if (cut > at) socket.write(wire.subarray(at, cut));
        at = cut;
      }
    });
  });
}

describe('parseRequestHead against node:http (llhttp)', () => {
  it(`reads ${CASES} generated heads as node does, or leaves them to node`, async () => {
    const cases = Array.from({ length: CASES }, () => {
      const wire = Buffer.from(generated(), 'latin1');
      const cuts = Array.from({ length: int(3) }, () => int(wire.length)).sort((a, b) => a - b);
      return { wire, cuts };
    });
    const disagreements: string[] = [];
    let served = 0;
    let readByBoth = 0;
    for (let i = 0; i < cases.length; i += CONCURRENCY) {
      await Promise.all(cases.slice(i, i + CONCURRENCY).map(async ({ wire, cuts }) => {
        const ours = parseRequestHead(wire);
        const theirs = await nodeReads(wire, cuts);
        const shown = JSON.stringify(wire.toString('latin1'));
        if (ours.kind === 'incomplete') {
          // Every byte so far is in the subset: node must not have found one to refuse either.
          if (theirs !== 'nothing') disagreements.push(`${shown}: incomplete to us, node ${typeof theirs === 'object' ? `read ${JSON.stringify(theirs)}` : theirs}`);
          return;
        }
        if (ours.kind !== 'head') return;
        const servable = fastPathRefusal(ours.head) === undefined;
        if (typeof theirs !== 'object') {
          if (servable) disagreements.push(`${shown}: the fast path would serve it, node says ${theirs}`);
          return;
        }
        readByBoth++;
        if (servable) served++;
        // The headers object too, as the fast path's requests build it (node-headers.ts).
        const mine = { method: ours.head.method, url: ours.head.target, httpVersion: ours.head.version, rawHeaders: ours.head.rawHeaders, headers: nodeHeaders(ours.head.rawHeaders) };
        if (JSON.stringify(mine) !== JSON.stringify(theirs)) disagreements.push(`${shown}: we read ${JSON.stringify(mine)}, node ${JSON.stringify(theirs)}`);
      }));
    }
    expect(disagreements).toEqual([]);
    // The generator must reach both sides: heads the fast path serves, and heads it leaves.
    expect(served).toBeGreaterThan(CASES / 10);
    expect(readByBoth).toBeLessThan(CASES);
  }, 120_000);
});
