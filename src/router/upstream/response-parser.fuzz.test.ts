/**
 * Differential fuzzing of ResponseParser against llhttp, as node:http's client runs it: generated
 * responses (valid ones, mutated) are served from a loopback server to `http.get` and fed, in
 * random pieces, to a ResponseParser. Whatever ResponseParser completes, llhttp must have completed
 * too, with the same status, header lines and body bytes; refusing what llhttp reads is allowed.
 */
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ResponseParser, type ResponseHead } from './response-parser.js';
import { UpstreamError } from './upstream-error.js';

const CASES = 400;
const SEED = 0x5eed_2024;
/** Connections open at a time. */
const CONCURRENCY = 4;
/** How long node may take over one case before it counts as refused. */
const CASE_TIMEOUT_MS = 2_000;

/** mulberry32: a small deterministic PRNG. */
class Rng {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }
  /** In [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
}

/** Bytes that tend to matter to a parser, and any byte. */
const INTERESTING = ['\r', '\n', ' ', '\t', ':', ';', '=', '"', ',', '0', '1', '9', 'a', 'f', 'F', 'g', 'x', '-', '+', '\x00', '\x01', '\x7f', '\x80', '\xff', 'H', '/'];
const byte = (rng: Rng): string => (rng.chance(0.7) ? rng.pick(INTERESTING) : String.fromCharCode(rng.int(256)));

const BODY_ALPHABET = ['a', 'b', 'z', '0', ' ', '\r', '\n', '\r\n', '\x00', '\xff', 'HTTP/1.1 200 OK', '0\r\n\r\n'];
function body(rng: Rng): string {
  let s = '';
  const parts = rng.int(8);
  for (let i = 0; i < parts; i++) s += rng.pick(BODY_ALPHABET);
  return s;
}

/** A chunk extension llhttp and RFC 9112 both accept. */
const EXTENSIONS = [';a', ';name=value', ';q="quoted value"', ';a=1;b', ';x="\\"esc\\""'];
const TRAILERS = ['X-Checksum: abc\r\n', 'X-A: 1\r\nX-B: 2\r\n', 'Expires: 0\r\n'];
const HEADERS: [name: string, value: string][] = [
  ['Content-Type', 'text/plain; charset=utf-8'],
  ['Date', 'Mon, 01 Jan 2024 00:00:00 GMT'],
  ['X-Request-Id', 'req-42'],
  ['Set-Cookie', 'a=1; Path=/; HttpOnly'],
  ['Cache-Control', 'no-cache'],
  ['Connection', 'keep-alive'],
  ['Connection', 'close'],
  ['Keep-Alive', 'timeout=5'],
  ['Vary', 'Accept-Encoding'],
  ['X-Empty', ''],
];

/** A valid response to a GET, maybe after interim ones. */
function validResponse(rng: Rng): string {
  let out = '';
  if (rng.chance(0.15)) out += rng.pick(['HTTP/1.1 100 Continue\r\n\r\n', 'HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n']);
  const version = rng.chance(0.85) ? 'HTTP/1.1' : 'HTTP/1.0';
  const [status, reason] = rng.pick<[number, string]>([
    [200, 'OK'], [200, 'OK'], [200, 'OK'], [201, 'Created'], [204, 'No Content'], [206, 'Partial Content'],
    [301, 'Moved Permanently'], [304, 'Not Modified'], [404, 'Not Found'], [500, 'Internal Server Error'], [299, ''],
  ]);
  out += `${version} ${status}${rng.chance(0.1) ? '' : ` ${reason}`}\r\n`;
  const headers: string[] = [];
  for (let i = rng.int(4); i > 0; i--) {
    const [name, value] = rng.pick(HEADERS);
    headers.push(`${name}:${rng.chance(0.8) ? ' ' : ''}${value}\r\n`);
  }
  const content = status === 204 || status === 304 ? '' : body(rng);
  const framing = rng.pick(['length', 'length', 'chunked', 'chunked', 'close']);
  let payload = '';
  if (framing === 'length') {
    if (status !== 204) headers.push(`${rng.chance(0.5) ? 'Content-Length' : 'content-length'}: ${content.length}\r\n`);
    payload = content;
  } else if (framing === 'chunked') {
    if (status !== 204) headers.push(`${rng.chance(0.5) ? 'Transfer-Encoding' : 'transfer-encoding'}: chunked\r\n`);
    if (status !== 204 && status !== 304) {
      let at = 0;
      while (at < content.length) {
        const n = 1 + rng.int(content.length - at);
        const size = n.toString(16);
        payload += `${rng.chance(0.2) ? '0' : ''}${rng.chance(0.5) ? size : size.toUpperCase()}${rng.chance(0.15) ? rng.pick(EXTENSIONS) : ''}\r\n${content.slice(at, at + n)}\r\n`;
        at += n;
      }
      payload += `0${rng.chance(0.1) ? rng.pick(EXTENSIONS) : ''}\r\n${rng.chance(0.2) ? rng.pick(TRAILERS) : ''}\r\n`;
    }
  } else if (status !== 204 && status !== 304) payload = content;
  // Shuffled, so that the framing header is not always last.
  for (let i = headers.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [headers[i], headers[j]] = [headers[j]!, headers[i]!];
  }
  return `${out}${headers.join('')}\r\n${payload}`;
}

/** Where the header lines of the final (non-1xx) head are: [start, end) of each, CRLF excluded. */
function headerLines(s: string): [number, number][] {
  let start = 0;
  while (/^HTTP\/1\.[01] 1/.test(s.slice(start, start + 10))) {
    const end = s.indexOf('\r\n\r\n', start);
    if (end < 0) return [];
    start = end + 4;
  }
  const end = s.indexOf('\r\n\r\n', start);
  const out: [number, number][] = [];
  for (let at = s.indexOf('\r\n', start) + 2; at > 1 && at <= end; ) {
    const next = s.indexOf('\r\n', at);
    out.push([at, next]);
    at = next + 2;
  }
  return out;
}

type Mutation = (s: string, rng: Rng) => string;
const MUTATIONS: [string, Mutation][] = [
  ['insert a byte', (s, rng) => {
    const at = rng.int(s.length + 1);
    return s.slice(0, at) + byte(rng) + s.slice(at);
  }],
  ['delete a byte', (s, rng) => {
    const at = rng.int(s.length);
    return s.slice(0, at) + s.slice(at + 1);
  }],
  ['replace a byte', (s, rng) => {
    const at = rng.int(s.length);
    return s.slice(0, at) + byte(rng) + s.slice(at + 1);
  }],
  ['flip the case of a header name', (s, rng) => {
    const lines = headerLines(s);
    if (lines.length === 0) return s;
    const [a, b] = rng.pick(lines);
    const colon = s.indexOf(':', a);
    const nameEnd = colon < 0 || colon > b ? b : colon;
    let name = '';
    for (const c of s.slice(a, nameEnd)) name += rng.chance(0.5) ? c.toUpperCase() : c.toLowerCase();
    return s.slice(0, a) + name + s.slice(nameEnd);
  }],
  ['duplicate a header line', (s, rng) => {
    const lines = headerLines(s);
    if (lines.length === 0) return s;
    const [a, b] = rng.pick(lines);
    const [to] = rng.pick(lines);
    return `${s.slice(0, to)}${s.slice(a, b)}\r\n${s.slice(to)}`;
  }],
  ['swap a CRLF for LF', (s, rng) => swapCrlf(s, rng, '\n')],
  ['swap a CRLF for CR', (s, rng) => swapCrlf(s, rng, '\r')],
  ['swap a CRLF for LF CR', (s, rng) => swapCrlf(s, rng, '\n\r')],
  ['add whitespace after a value', (s, rng) => {
    const lines = headerLines(s);
    if (lines.length === 0) return s;
    const [, b] = rng.pick(lines);
    return `${s.slice(0, b)}${rng.pick([' ', '\t', ' \t', '\t '])}${s.slice(b)}`;
  }],
  ['insert a space before a colon', (s, rng) => {
    const lines = headerLines(s);
    if (lines.length === 0) return s;
    const [a] = rng.pick(lines);
    const colon = s.indexOf(':', a);
    return colon < 0 ? s : `${s.slice(0, colon)}${rng.pick([' ', '\t'])}${s.slice(colon)}`;
  }],
  ['fold a header line', (s, rng) => {
    const lines = headerLines(s);
    if (lines.length === 0) return s;
    const [, b] = rng.pick(lines);
    return `${s.slice(0, b)}\r\n${rng.pick([' ', '\t'])}folded${s.slice(b)}`;
  }],
  ['change a chunk size', (s, rng) => {
    const sizes = [...s.matchAll(/\r\n([0-9A-Fa-f]+)(?=[;\r])/g)];
    if (sizes.length === 0) return s;
    const m = rng.pick(sizes);
    const at = m.index + 2;
    const size = rng.pick(['0', '1', '2', '5', 'a', 'FF', '0x5', '-1', '00000000000001', ' 1', '1 ', '']);
    return s.slice(0, at) + size + s.slice(at + m[1]!.length);
  }],
  ['change a Content-Length', (s, rng) => {
    const m = /content-length:[ \t]*(\d+)/i.exec(s);
    if (!m) return s;
    const at = m.index + m[0].length - m[1]!.length;
    const value = rng.pick([String(Number(m[1]) + 1), String(Math.max(0, Number(m[1]) - 1)), `+${m[1]}`, `${m[1]}, ${m[1]}`, `0${m[1]}`, `${m[1]} `, '']);
    return s.slice(0, at) + value + s.slice(at + m[1]!.length);
  }],
  ['add a framing header', (s, rng) => {
    const lines = headerLines(s);
    const at = lines.length === 0 ? s.indexOf('\r\n') + 2 : rng.pick(lines)[0];
    if (at < 2) return s;
    const header = rng.pick(['Transfer-Encoding: chunked', 'Content-Length: 0', 'Content-Length: 3', 'Transfer-Encoding: gzip', 'Transfer-Encoding: identity', 'Connection: close']);
    return `${s.slice(0, at)}${header}\r\n${s.slice(at)}`;
  }],
  ['cut the end off', (s, rng) => s.slice(0, rng.int(s.length))],
  ['append bytes', (s, rng) => s + rng.pick(['x', '\r\n', 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n', '0\r\n\r\n'])],
];

function swapCrlf(s: string, rng: Rng, by: string): string {
  const at: number[] = [];
  for (let i = s.indexOf('\r\n'); i >= 0; i = s.indexOf('\r\n', i + 1)) at.push(i);
  if (at.length === 0) return s;
  const i = rng.pick(at);
  return s.slice(0, i) + by + s.slice(i + 2);
}

interface Case {
  index: number;
  /** The bytes, latin1. */
  input: string;
  mutations: string[];
  /** Where the input is split between `execute` calls. */
  cuts: number[];
}

function generate(): Case[] {
  const rng = new Rng(SEED);
  const cases: Case[] = [];
  for (let index = 0; index < CASES; index++) {
    let input = validResponse(rng);
    const mutations: string[] = [];
    // A quarter unmutated, so that there is much to agree on.
    const n = rng.chance(0.25) ? 0 : 1 + rng.int(3);
    for (let i = 0; i < n; i++) {
      const [name, mutate] = rng.pick(MUTATIONS);
      input = mutate(input, rng);
      mutations.push(name);
    }
    const cuts = [...new Set(Array.from({ length: rng.int(5) }, () => rng.int(input.length + 1)))].sort((a, b) => a - b);
    cases.push({ index, input, mutations, cuts });
  }
  return cases;
}

/** What a parser made of a case: the response, or why it refused it. */
type Result = { accepted: true; status: number; statusText: string; headers: string[]; body: string } | { accepted: false; why: string };

function graylane(c: Case): Result {
  const bytes = Buffer.from(c.input, 'latin1');
  const heads: ResponseHead[] = [];
  const bodies: Buffer[] = [];
  let completions = 0;
  const parser = new ResponseParser({
    onHead: (h) => heads.push(h),
    onBody: (b) => bodies.push(Buffer.from(b)),
    onComplete: () => completions++,
  });
  parser.expect('GET');
  try {
    let at = 0;
    for (const cut of [...c.cuts, bytes.length]) {
      parser.execute(bytes.subarray(at, cut));
      at = cut;
    }
    parser.finish();
  } catch (err) {
    if (!(err instanceof UpstreamError)) throw err;
    return { accepted: false, why: `${err.code}: ${err.message}` };
  }
  if (heads.length !== 1 || completions !== 1) return { accepted: false, why: `${heads.length} heads, ${completions} completions` };
  const h = heads[0]!;
  return { accepted: true, status: h.status, statusText: h.statusText, headers: h.headers, body: Buffer.concat(bodies).toString('latin1') };
}

/** Serves case i's bytes to the request for `/i`, then ends the connection. */
function serve(cases: readonly Case[]): net.Server {
  return net.createServer((socket) => {
    socket.on('error', () => {});
    let request = '';
    const onData = (data: Buffer): void => {
      request += data.toString('latin1');
      if (!request.includes('\r\n\r\n')) return;
      socket.off('data', onData);
      // Whatever else the client sends is read and dropped: a close with unread bytes would reset
      // the connection, and with it the response's bytes the client had not read yet.
      socket.resume();
      const c = cases[Number(/^GET \/(\d+) /.exec(request)?.[1])];
      socket.end(c === undefined ? '' : Buffer.from(c.input, 'latin1'));
    };
    socket.on('data', onData);
  });
}

function llhttp(port: number, c: Case): Promise<Result> {
  return new Promise((resolve) => {
    const errors: string[] = [];
    let response: http.IncomingMessage | undefined;
    let ended = false;
    const chunks: Buffer[] = [];
    let pending = 1;
    const done = (): void => {
      if (--pending > 0) return;
      clearTimeout(timer);
      // Errors the parser raises after the response ended are reported on the next tick.
      setImmediate(() => {
        if (errors.length > 0 || !response || !ended) resolve({ accepted: false, why: errors.join('; ') || (response ? 'not ended' : 'no response') });
        else resolve({ accepted: true, status: response.statusCode!, statusText: response.statusMessage!, headers: response.rawHeaders, body: Buffer.concat(chunks).toString('latin1') });
      });
    };
    const req = http.get({ host: '127.0.0.1', port, path: `/${c.index}`, agent: false }, (res) => {
      response = res;
      pending++;
      res.on('data', (d: Buffer) => chunks.push(d));
      res.on('end', () => (ended = true));
      res.on('error', (err) => errors.push(`response: ${err.message}`));
      res.on('close', done);
    });
    req.on('error', (err) => errors.push(`request: ${(err as NodeJS.ErrnoException).code ?? ''} ${err.message}`));
    req.on('close', done);
    const timer = setTimeout(() => {
      errors.push('timed out');
      req.destroy();
    }, CASE_TIMEOUT_MS);
  });
}

describe('ResponseParser against llhttp (node:http client)', () => {
  const cases = generate();
  let server: net.Server;
  let port: number;

  beforeAll(async () => {
    server = serve(cases);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });

  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it(`accepts only what llhttp accepts, and reads it the same (${CASES} generated responses, seed ${SEED})`, async () => {
    const outcomes: { c: Case; ours: Result; theirs: Result }[] = [];
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < cases.length) {
        const c = cases[next++]!;
        const ours = graylane(c);
        outcomes.push({ c, ours, theirs: await llhttp(port, c) });
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));

    const failures: string[] = [];
    let agreed = 0;
    let stricter = 0;
    let bothRefused = 0;
    for (const { c, ours, theirs } of outcomes.sort((a, b) => a.c.index - b.c.index)) {
      if (!ours.accepted) {
        if (theirs.accepted) stricter++;
        else bothRefused++;
        continue;
      }
      if (JSON.stringify(ours) === JSON.stringify(theirs)) agreed++;
      else failures.push(`case ${c.index} (${c.mutations.join(', ') || 'unmutated'}), input ${JSON.stringify(c.input)} cut at ${JSON.stringify(c.cuts)}: ResponseParser read ${JSON.stringify(ours)}, llhttp ${JSON.stringify(theirs)}`);
    }
    console.log(`response-parser fuzz: ${CASES} cases, ${agreed} accepted by both alike, ${bothRefused} refused by both, ${stricter} refused by ResponseParser only (stricter than llhttp), ${failures.length} accepted by ResponseParser against llhttp`);
    expect(failures, failures.join('\n')).toEqual([]);
    // The generator must give both parsers something to agree on, and something to refuse.
    expect(agreed).toBeGreaterThan(CASES / 5);
    expect(bothRefused + stricter).toBeGreaterThan(CASES / 5);
  });
});
