/**
 * Version tokens of releases: `<release>.<generation>.<side>.<position>.<mac>`, the mac being the
 * first 22 characters of base64url(HMAC-SHA256(secret, everything before it)) — 132 bits, enough
 * that guessing one is hopeless, short enough for a cookie.
 *
 * The position is the client's stable random place in the population, an integer in
 * [0, {@link RELEASE_POSITIONS}) (hundredths of a percent): at each page load the client is on the
 * canary iff position < weight, so a weight change moves clients one way only. The side is the
 * side of the client's current page, which its assets and API calls keep. Tokens issued before
 * positions existed (`<release>.<generation>.<side>.<mac>`) are still honoured; they get a position
 * at their next page load.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { ReleaseSide } from './types.js';

/** Characters of the mac kept in a token. */
export const RELEASE_MAC_LENGTH = 22;

/** Positions a token can carry: 0 … 9999, hundredths of a percent of the client population. */
export const RELEASE_POSITIONS = 10_000;

/**
 * Default `assetPattern`: a file name ending in a content hash before the extension, as bundlers
 * write them — `.` then at least 8 hex digits (webpack: `app.3f9a1c2b7d.js`, `main.8e4f2a1b.chunk.js`)
 * or `-` then 8 base64url characters (Vite/Rollup: `index-BXk3z9aQ.css`) — then one or two
 * extensions (`.js.map` too).
 */
export const DEFAULT_ASSET_PATTERN = '(?:\\.[0-9a-f]{8,}|-[A-Za-z0-9_-]{8})(?:\\.[A-Za-z0-9]{1,8}){1,2}$';

/** What a token says. */
export interface ReleaseTokenClaims {
  release: string;
  generation: string;
  side: ReleaseSide;
  /** The client's position, 0 … {@link RELEASE_POSITIONS} − 1; absent in tokens from before positions. */
  position?: number;
}

/** What a valid token of the current generation says about its client. */
export interface VerifiedReleaseToken {
  side: ReleaseSide;
  /** Undefined for a token issued before positions existed. */
  position: number | undefined;
}

/** Signs a version token for `claims` with `secret`. */
export function signReleaseToken(secret: string, claims: ReleaseTokenClaims): string {
  const payload = `${claims.release}.${claims.generation}.${claims.side}${claims.position === undefined ? '' : `.${claims.position}`}`;
  const mac = createHmac('sha256', secret).update(payload).digest('base64url').slice(0, RELEASE_MAC_LENGTH);
  return `${payload}.${mac}`;
}

/** A position as written in a token, or undefined when it is not one (leading zeros included). */
function parsePosition(text: string): number | undefined {
  if (!/^(?:0|[1-9][0-9]{0,3})$/.test(text)) return undefined;
  const n = Number(text);
  return n < RELEASE_POSITIONS ? n : undefined;
}

const isSide = (s: string | undefined): s is ReleaseSide => s === 'stable' || s === 'canary';

/** The parts after `<release>.`: the generation, side and position, or undefined if malformed. */
function parseTail(rest: string[]): { generation: string; side: ReleaseSide; position: number | undefined } | undefined {
  // A position is digits, never a side, so the two formats cannot be mistaken for each other.
  if (rest.length >= 3 && isSide(rest.at(-2))) {
    return { generation: rest.slice(0, -2).join('.'), side: rest.at(-2) as ReleaseSide, position: undefined };
  }
  if (rest.length >= 4 && isSide(rest.at(-3))) {
    const position = parsePosition(rest.at(-2)!);
    if (position === undefined) return undefined;
    return { generation: rest.slice(0, -3).join('.'), side: rest.at(-3) as ReleaseSide, position };
  }
  return undefined;
}

/** Checks a given token against the one expected, in time independent of where they differ. */
function same(given: string, expected: Buffer): boolean {
  const g = Buffer.from(given);
  return g.length === expected.length && timingSafeEqual(g, expected);
}

/** The valid tokens of one release generation, checked without leaking where a forged one differs. */
export class ReleaseTokenVerifier {
  private readonly prefix: string;
  /**
   * Expected tokens by side and position, computed once each: at most 2 × {@link RELEASE_POSITIONS}
   * entries, since only well-formed claims of this release and generation are ever looked up.
   */
  private readonly expected = new Map<number, Buffer>();
  private readonly legacy: Record<ReleaseSide, Buffer>;

  constructor(
    private readonly secret: string,
    private readonly release: string,
    private readonly generation: string,
  ) {
    this.prefix = `${release}.${generation}.`;
    this.legacy = {
      stable: Buffer.from(signReleaseToken(secret, { release, generation, side: 'stable' })),
      canary: Buffer.from(signReleaseToken(secret, { release, generation, side: 'canary' })),
    };
  }

  private expectedToken(side: ReleaseSide, position: number): Buffer {
    const key = side === 'stable' ? position : RELEASE_POSITIONS + position;
    let t = this.expected.get(key);
    if (!t) this.expected.set(key, (t = Buffer.from(signReleaseToken(this.secret, { release: this.release, generation: this.generation, side, position }))));
    return t;
  }

  /** The token of a client on `side` at `position`. */
  token(side: ReleaseSide, position: number): string {
    return this.expectedToken(side, position).toString();
  }

  /** What a token says, or undefined (forged, tampered, another release or generation). */
  verify(token: string): VerifiedReleaseToken | undefined {
    if (!token.startsWith(this.prefix)) return undefined;
    const tail = parseTail([this.generation, ...token.slice(this.prefix.length).split('.')]);
    if (!tail || tail.generation !== this.generation) return undefined;
    if (tail.position === undefined) {
      // Both comparisons always run, so timing tells nothing about either token.
      const s = same(token, this.legacy.stable);
      const c = same(token, this.legacy.canary);
      return s ? { side: 'stable', position: undefined } : c ? { side: 'canary', position: undefined } : undefined;
    }
    return same(token, this.expectedToken(tail.side, tail.position)) ? { side: tail.side, position: tail.position } : undefined;
  }

  /**
   * Whether a token is a genuine one of an earlier generation of this release. Such a client was
   * assigned before the current attempt began, so it runs the version that is stable now.
   */
  isEarlierGeneration(token: string): boolean {
    const prefix = `${this.release}.`;
    if (!token.startsWith(prefix)) return false;
    const tail = parseTail(token.slice(prefix.length).split('.'));
    if (!tail || tail.generation === this.generation || tail.generation === '') return false;
    const { generation, side, position } = tail;
    const claims: ReleaseTokenClaims = { release: this.release, generation, side, ...(position === undefined ? {} : { position }) };
    return same(token, Buffer.from(signReleaseToken(this.secret, claims)));
  }
}
