/** Who answered a request, from the `x-served-by: <service>@<version>` response header. */
export interface ServedBy {
  /** The service name, e.g. `web`. */
  service: string;
  /** The version or revision, e.g. `v2`. */
  version: string;
}

/** The response header every example service sets. */
export const SERVED_BY_HEADER = 'x-served-by';

/** Parses an `x-served-by` value; undefined when absent or not `service@version`. */
export function parseServedBy(value: string | string[] | undefined): ServedBy | undefined {
  const raw = Array.isArray(value) ? value[0] : value;
  if (raw === undefined) return undefined;
  const at = raw.lastIndexOf('@');
  if (at <= 0 || at === raw.length - 1) return undefined;
  return { service: raw.slice(0, at).trim(), version: raw.slice(at + 1).trim() };
}

/** Adds one to `counts[key]`. */
export function increment(counts: Record<string, number>, key: string, by = 1): void {
  counts[key] = (counts[key] ?? 0) + by;
}
