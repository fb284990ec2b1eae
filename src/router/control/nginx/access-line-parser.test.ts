import { describe, expect, it } from 'vitest';
import { AccessLineParser, parseAccessLine, type AccessLine } from './access-line-parser.js';

const lines = (text: string): AccessLine[] => {
  const out: AccessLine[] = [];
  const buf = Buffer.from(text, 'utf8');
  new AccessLineParser().parseLines(buf, 0, buf.length, (l, n) => out.push(...Array<AccessLine>(n).fill(l)));
  return out;
};

/** How many times each (service, revision, pick, status, ms) came: lines are counted, not ordered. */
function tallyOf(list: readonly (AccessLine | readonly [string, string, string, number, number])[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const l of list) {
    const key = Array.isArray(l) ? l.join(' ') : [(l as AccessLine).service, (l as AccessLine).revision, (l as AccessLine).pick, (l as AccessLine).status, (l as AccessLine).requestMs].join(' ');
    out[key] = (out[key] ?? 0) + 1;
  }
  return out;
}

describe('parsing access log lines from bytes', () => {
  it.each([
    ['gl1|web|v2|v1|503|0.250|-|request', { service: 'web', revision: 'v2', pick: 'v1', status: 503, requestMs: 250, kind: 'request' }],
    ['gl1|web|v2|v2|200|0.001|0.001|mirror', { service: 'web', revision: 'v2', pick: 'v2', status: 200, requestMs: 1, kind: 'mirror' }],
    ['gl1|||||404|0.000|-|request', undefined],
    ['gl1||||404|0.000|-|request', { service: '', revision: '', pick: '', status: 404, requestMs: 0, kind: 'request' }],
    ['gl1|web|v1|v1|200|12.5|-|request\r', { service: 'web', revision: 'v1', pick: 'v1', status: 200, requestMs: 12_500, kind: 'request' }],
    ['<190>Dec  2 12:00:00 host nginx: gl1|web|v1|v1|499|3|-|request', { service: 'web', revision: 'v1', pick: 'v1', status: 499, requestMs: 3000, kind: 'request' }],
    ['gl1|wéb|v1|v1|200|0.001|-|mirror ', { service: 'wéb', revision: 'v1', pick: 'v1', status: 200, requestMs: 1, kind: 'mirror' }],
    ['127.0.0.1 - - "GET / HTTP/1.1" 200', undefined],
    ['gl1|web|v2|v1|abc|0.1|-|request', undefined],
    ['gl1|web|v2|v1||0.1|-|request', undefined],
    ['gl1|web|v2|v1|200|-|-|request', undefined],
    ['gl1|web|v2|v1|200|0.1.2|-|request', undefined],
    ['gl1|web|v2|v1|200|0.1|-', undefined],
    ['gl2|web|v2|v1|200|0.1|-|request', undefined],
    ['', undefined],
  ])('%j', (text, expected) => {
    expect(parseAccessLine(text)).toEqual(expected);
  });

  it('reads every line of a chunk, skipping foreign and broken ones, each line on its own', () => {
    const got = lines('gl1|a|v1|v1|200|0.001|-|request\nnot ours\ngl1|b|v2|v1|502|0.010|0.010|request\ngl1|a|v1|v1|20x|0.001|-|request\ngl1|a|v1|v1|201|0.002|-|request');
    expect(tallyOf(got)).toEqual(tallyOf([['a', 'v1', 'v1', 200, 1], ['b', 'v2', 'v1', 502, 10], ['a', 'v1', 'v1', 201, 2]]));
  });

  it('counts a read by distinct line: every line once, the upstream time aside, the kind apart', () => {
    const calls: [AccessLine, number][] = [];
    const text = [
      ...Array.from({ length: 5000 }, (_, i) => `gl1|web|v1|v1|200|0.00${i % 2}|0.00${i % 3}|request`),
      'gl1|web|v1|v1|200|0.000|-|mirror', 'broken', 'gl1|web|v1|v1|200|0.000|-|mirror', 'gl1|web|v2|v1|200|0.000|-|request',
    ].join('\n');
    const buf = Buffer.from(text);
    new AccessLineParser().parseLines(buf, 0, buf.length, (l, n) => calls.push([l, n]));
    expect(calls.map(([l, n]) => `${l.revision} ${l.requestMs} ${l.kind} ×${n}`).sort()).toEqual(['v1 0 mirror ×2', 'v1 0 request ×2500', 'v1 1 request ×2500', 'v2 0 request ×1']);
  });

  it('never mixes up names or lines it keeps: more distinct ones than it remembers, interleaved', () => {
    const triples = Array.from({ length: 150 }, (_, i) => [`svc${i % 13}`, `r${i % 7}`, `r${(i * 3) % 7}`] as const);
    const all = [...triples, ...triples.slice().reverse()].map(([s, r, p], i) => [s, r, p, 200 + (i % 5), i % 10] as const);
    const got = lines(`${all.map(([s, r, p, status, ms]) => `gl1|${s}|${r}|${p}|${status}|0.00${ms}|-|request`).join('\n')}\n`);
    expect(got).toHaveLength(all.length);
    expect(tallyOf(got)).toEqual(tallyOf(all));
  });

  it('names that are prefixes of one another stay apart (same bytes, other split)', () => {
    expect(lines('gl1|ab|c|d|200|0|-|request\ngl1|a|bc|d|200|0|-|request\n').map((l) => [l.service, l.revision])).toEqual([['ab', 'c'], ['a', 'bc']]);
  });
});
