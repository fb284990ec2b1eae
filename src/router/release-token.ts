/**
 * Version tokens of releases: `<release>.<generation>.<side>.<mac>`, the mac being the first 22
 * characters of base64url(HMAC-SHA256(secret, `<release>.<generation>.<side>`)) — 132 bits, enough
 * that guessing one is hopeless, short enough for a cookie. A token carries no client identity:
 * for a given release and generation there are exactly two valid tokens, so checking one is a
 * constant-time comparison with those two.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { ReleaseSide } from './types.js';

/** Characters of the mac kept in a token. */
export const RELEASE_MAC_LENGTH = 22;

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
}

/** Signs a version token for `claims` with `secret`. */
export function signReleaseToken(secret: string, claims: ReleaseTokenClaims): string {
  const payload = `${claims.release}.${claims.generation}.${claims.side}`;
  const mac = createHmac('sha256', secret).update(payload).digest('base64url').slice(0, RELEASE_MAC_LENGTH);
  return `${payload}.${mac}`;
}

/** The two valid tokens of one release generation, checked without leaking where they differ. */
export class ReleaseTokenVerifier {
  private readonly stable: Buffer;
  private readonly canary: Buffer;

  constructor(
    private readonly secret: string,
    private readonly release: string,
    private readonly generation: string,
  ) {
    this.stable = Buffer.from(signReleaseToken(secret, { release, generation, side: 'stable' }));
    this.canary = Buffer.from(signReleaseToken(secret, { release, generation, side: 'canary' }));
  }

  /** The token of a side. */
  token(side: ReleaseSide): string {
    return (side === 'stable' ? this.stable : this.canary).toString();
  }

  /** The side a token is valid for, or undefined (forged, tampered, another release or generation). */
  verify(token: string): ReleaseSide | undefined {
    const given = Buffer.from(token);
    // Both comparisons always run, on equal lengths, so timing tells nothing about either token.
    const s = given.length === this.stable.length && timingSafeEqual(given, this.stable);
    const c = given.length === this.canary.length && timingSafeEqual(given, this.canary);
    return s ? 'stable' : c ? 'canary' : undefined;
  }

  /**
   * Whether a token is a genuine one of an earlier generation of this release. Such a client was
   * assigned before the current attempt began, so it runs the version that is stable now.
   */
  isEarlierGeneration(token: string): boolean {
    const prefix = `${this.release}.`;
    if (!token.startsWith(prefix)) return false;
    const rest = token.slice(prefix.length).split('.');
    if (rest.length < 3) return false;
    const side = rest.at(-2);
    const generation = rest.slice(0, -2).join('.');
    if ((side !== 'stable' && side !== 'canary') || generation === this.generation || generation === '') return false;
    const want = Buffer.from(signReleaseToken(this.secret, { release: this.release, generation, side }));
    const given = Buffer.from(token);
    return given.length === want.length && timingSafeEqual(given, want);
  }
}
