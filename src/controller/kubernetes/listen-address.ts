/**
 * `host:port` addresses of the controller's own servers (`--health-addr`, `--metrics-addr`), as
 * controller-runtime spells them: an empty host (`:8080`) listens on every interface.
 */

/** Where a server listens. */
export interface ListenAddress {
  /** Interface to bind; `0.0.0.0` for an empty host. */
  host: string;
  /** TCP port; 0 picks a free one (tests). */
  port: number;
}

/** An address that is not `host:port`. */
export class ListenAddressError extends Error {
  /** Stable code for callers. */
  readonly code = 'InvalidListenAddress';
  constructor(readonly text: string, reason: string) {
    super(`"${text}" is not host:port: ${reason}`);
    this.name = 'ListenAddressError';
  }
}

/** Parses `host:port`, `:port` or `[::1]:port`. */
export function parseListenAddress(text: string): ListenAddress {
  const m = /^(\[[0-9a-fA-F:.]+\]|[^:[\]]*):([^:]*)$/.exec(text);
  if (!m) throw new ListenAddressError(text, 'expected one ":" between host and port');
  const portText = m[2]!;
  if (!/^[0-9]{1,5}$/.test(portText) || Number(portText) > 65535) throw new ListenAddressError(text, `the port must be a number from 0 to 65535, not "${portText}"`);
  const rawHost = m[1]!;
  const host = rawHost === '' ? '0.0.0.0' : rawHost.replace(/^\[(.*)\]$/, '$1');
  return { host, port: Number(portText) };
}
