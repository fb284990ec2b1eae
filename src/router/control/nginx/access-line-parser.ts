/**
 * Parses graylane's access log lines straight from the bytes nginx wrote. At tens of thousands of
 * requests a second this runs once per request beside nginx, on the same cores, and every
 * microsecond it takes is one nginx does not get: decoding each line to a string, splitting it and
 * counting it cost about 0.6 µs a line. Under load most lines of a read are the same line (a
 * service, its revision, 200, 0.001 s), so a read is tallied by line first, with the bytes of each
 * compared to the lines seen before, and each distinct line is parsed (its names decoded) and
 * counted once with how often it came.
 */
import { LOG_MARK } from './render-config.js';

/** One request as nginx logged it. */
export interface AccessLine {
  /** Service name; empty for a request no service took. */
  service: string;
  /** Revision that served it (or answered 503 for). */
  revision: string;
  /** Revision chosen before falling back for want of a ready instance. */
  pick: string;
  /** Response status nginx sent (499: the client went away). */
  status: number;
  /** Time from the request's first byte to the response's last, ms. */
  requestMs: number;
  /** A client's request, or a mirrored copy. */
  kind: 'request' | 'mirror';
}

const PIPE = 0x7c;
const DOT = 0x2e;
const ZERO = 0x30;
const NINE = 0x39;
const MARK = Buffer.from(`${LOG_MARK}|`, 'latin1');
const MIRROR = Buffer.from('mirror', 'latin1');
/** Fields after the mark: service, revision, pick, status, request time, upstream time, kind. */
const FIELDS = 7;
/** Whether `a[aStart, aStart + length)` and `b[bStart, bStart + length)` hold the same bytes. */
function sameBytes(a: Buffer, aStart: number, b: Buffer, bStart: number, length: number): boolean {
  for (let i = 0; i < length; i++) if (a[aStart + i] !== b[bStart + i]) return false;
  return true;
}

/** Whether `buf[at, end)` starts with `prefix`. */
function startsWith(buf: Buffer, at: number, end: number, prefix: Buffer): boolean {
  if (end - at < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (buf[at + i] !== prefix[i]) return false;
  return true;
}

/** A whole number from ASCII digits in `buf[start, end)`; -1 for anything else. */
function digits(buf: Buffer, start: number, end: number): number {
  if (end <= start) return -1;
  let n = 0;
  for (let i = start; i < end; i++) {
    const c = buf[i]!;
    if (c < ZERO || c > NINE) return -1;
    n = n * 10 + (c - ZERO);
  }
  return n;
}

/** Seconds as nginx writes them (`0.123`), in ms; NaN for anything else. */
function secondsAsMs(buf: Buffer, start: number, end: number): number {
  let dot = end;
  for (let i = start; i < end; i++) {
    if (buf[i] === DOT) {
      dot = i;
      break;
    }
  }
  const whole = digits(buf, start, dot);
  if (whole < 0) return NaN;
  if (dot === end) return whole * 1000;
  const fraction = digits(buf, dot + 1, end);
  if (fraction < 0) return NaN;
  // nginx writes milliseconds (three places): whole numbers of ms, with no rounding on the way.
  const places = end - dot - 1;
  return whole * 1000 + (places <= 3 ? fraction * 10 ** (3 - places) : fraction / 10 ** (places - 3));
}

/** A distinct line of one read: its bytes (the upstream time left out) and how often it came. */
interface Tally {
  /** The line's bytes up to its upstream time field, then from its kind field to its end. */
  key: Buffer;
  /** Where the kind field starts in `key`. */
  kindAt: number;
  line: AccessLine | undefined;
  count: number;
}

/** Distinct lines tallied in one read before they are counted and the tally starts over. */
const TALLIES_KEPT = 64;

/** Parses graylane's access log lines from bytes. */
export class AccessLineParser {
  /** Where each field ends (the `|` after it, or the line's end); reused from line to line. */
  private readonly ends = new Int32Array(FIELDS);
  private readonly tallies: Tally[] = [];
  private lastTally = 0;

  /**
   * Parses every line of `buf[start, end)` (lines end in `\n`; the last may lack it) and calls
   * `onLine` once per distinct graylane line with how many times it came. Lines are counted, not
   * ordered: the same line twice in a read is one call with count 2.
   */
  parseLines(buf: Buffer, start: number, end: number, onLine: (line: AccessLine, count: number) => void): void {
    let s = start;
    while (s < end) {
      let e = buf.indexOf(0x0a, s);
      if (e < 0 || e > end) e = end;
      this.tally(buf, s, e, onLine);
      s = e + 1;
    }
    this.flush(onLine);
  }

  private flush(onLine: (line: AccessLine, count: number) => void): void {
    for (const t of this.tallies) if (t.line) onLine(t.line, t.count);
    this.tallies.length = 0;
    this.lastTally = 0;
  }

  /** Adds the line `buf[start, end)` to the read's tally. */
  private tally(buf: Buffer, start: number, end: number, onLine: (line: AccessLine, count: number) => void): void {
    const ends = this.ends;
    const fields = this.fieldEnds(buf, start, end);
    if (fields < 0) return;
    // The key: from the mark to the end of the request time, and the kind.
    const headLength = ends[4]! - fields;
    const kindAt = ends[5]! + 1;
    const tailLength = ends[6]! - kindAt;
    const kept = this.tallies;
    for (let n = 0; n < kept.length; n++) {
      const k = (this.lastTally + n) % kept.length;
      const t = kept[k]!;
      if (t.kindAt !== headLength || t.key.length !== headLength + tailLength) continue;
      if (!sameBytes(t.key, 0, buf, fields, headLength) || !sameBytes(t.key, headLength, buf, kindAt, tailLength)) continue;
      t.count++;
      this.lastTally = k;
      return;
    }
    if (kept.length >= TALLIES_KEPT) this.flush(onLine);
    const key = Buffer.allocUnsafe(headLength + tailLength);
    buf.copy(key, 0, fields, ends[4]);
    buf.copy(key, headLength, kindAt, ends[6]);
    kept.push({ key, kindAt: headLength, line: this.lineOf(buf, fields), count: 1 });
    this.lastTally = kept.length - 1;
  }

  /**
   * Fills {@link ends} for the line `buf[start, end)`, trailing blanks left out; returns where the
   * first field starts, or -1 when the line is not graylane's.
   */
  private fieldEnds(buf: Buffer, start: number, end: number): number {
    while (end > start && (buf[end - 1] === 0x0d || buf[end - 1] === 0x20)) end--;
    // The mark starts the line nginx writes; anything before it (a syslog prefix) is skipped.
    let at = start;
    if (!startsWith(buf, at, end, MARK)) {
      // Searched within the line only: a line without the mark must not scan the rest of the read.
      const within = buf.subarray(start, end).indexOf(MARK);
      if (within < 0) return -1;
      at = start + within;
    }
    const first = at + MARK.length;
    const ends = this.ends;
    let field = 0;
    for (let i = first; i < end && field < FIELDS - 1; i++) {
      if (buf[i] === PIPE) ends[field++] = i;
    }
    if (field < FIELDS - 1) return -1;
    ends[FIELDS - 1] = end;
    return first;
  }

  /** Parses the line `buf[start, end)`; undefined for a line that is not graylane's. */
  parse(buf: Buffer, start: number, end: number): AccessLine | undefined {
    const first = this.fieldEnds(buf, start, end);
    return first < 0 ? undefined : this.lineOf(buf, first);
  }

  /** The line whose fields {@link fieldEnds} found, from `first`; undefined when a field is malformed. */
  private lineOf(buf: Buffer, first: number): AccessLine | undefined {
    const ends = this.ends;
    const status = digits(buf, ends[2]! + 1, ends[3]!);
    const requestMs = secondsAsMs(buf, ends[3]! + 1, ends[4]!);
    if (status < 0 || Number.isNaN(requestMs)) return undefined;
    const kindAt = ends[5]! + 1;
    const kind = ends[6]! - kindAt === MIRROR.length && startsWith(buf, kindAt, ends[6]!, MIRROR) ? 'mirror' : 'request';
    return {
      service: buf.toString('utf8', first, ends[0]),
      revision: buf.toString('utf8', ends[0]! + 1, ends[1]),
      pick: buf.toString('utf8', ends[1]! + 1, ends[2]),
      status,
      requestMs,
      kind,
    };
  }
}

/** Parses one line of graylane's access log format; undefined for anything else. */
export function parseAccessLine(text: string): AccessLine | undefined {
  const buf = Buffer.from(text, 'utf8');
  return new AccessLineParser().parse(buf, 0, buf.length);
}
