/**
 * Release pinning in a VirtualService (pure): the split destinations of a member's weighted HTTP
 * routes add the pin cookie for the side that served the response (`headers.response.add`, so the
 * application's own Set-Cookie headers are kept), and two managed routes, placed first, send a
 * request carrying a pin (cookie or header) to its side. Each pin route repeats the matches of
 * the weighted route it stands in front of, so that it captures that route's requests only.
 *
 * Nothing here is recorded but the pin routes' names (the provider's annotation, as for header
 * routes): a pin cookie on a destination is recognised by its value (see `isPinSetCookie`), so
 * that it is taken away at promotion or abort without knowing which release wrote it.
 */
import type { ReleaseSide } from '../../router/contract/index.js';
import { isPinSetCookie, pinCookiePattern, pinHeaderValues, pinnedSides, pinSetCookie, regexLiteral, type ReleasePin } from '../release-pin.js';
import { IstioRoutingError } from './istio-routing-error.js';

type Json = Record<string, unknown>;

/** Names of pin routes start so, then the release's name. */
export const PIN_ROUTE_PREFIX = 'graylane-pin-';

const asObject = (v: unknown): Json => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : {});

/** The names of the pin routes in front of `weightedCount` weighted routes, canary's first. */
export function pinRouteNames(pin: ReleasePin, weightedCount: number): string[] {
  const sides = pinnedSides(pin);
  return Array.from({ length: weightedCount }, (_, k) => sides.map((side) => `${PIN_ROUTE_PREFIX}${pin.release}-${side}${k === 0 ? '' : `-${k}`}`)).flat();
}

/**
 * `destination` (a weighted route's entry) with the pin cookie of `side` added when a pin is in
 * force and clients are being pinned, or with graylane's pin cookie taken away otherwise.
 * Throws when the user adds a Set-Cookie of their own there: a map holds one value per header.
 */
export function withPinCookie(destination: Json, side: ReleaseSide, pin: ReleasePin | undefined, vsName: string): Json {
  const headers = asObject(destination.headers);
  const response = asObject(headers.response);
  const add = { ...asObject(response.add) };
  const existing = add['set-cookie'];
  if (existing !== undefined && !isPinSetCookie(existing)) {
    throw new IstioRoutingError('pin-conflict', `VirtualService/${vsName}`, `VirtualService "${vsName}": the ${side} destination already adds a Set-Cookie header of its own, where release pinning adds the version cookie; move that cookie to the application`);
  }
  if (pin?.phase === 'progressing') add['set-cookie'] = pinSetCookie(pin, side);
  else delete add['set-cookie'];
  const nextResponse: Json = { ...response, add };
  if (Object.keys(add).length === 0) delete nextResponse.add;
  const nextHeaders: Json = { ...headers, response: nextResponse };
  if (Object.keys(nextResponse).length === 0) delete nextHeaders.response;
  const out: Json = { ...destination, headers: nextHeaders };
  if (Object.keys(nextHeaders).length === 0) delete out.headers;
  return out;
}

/** `route` with graylane's pin cookies taken off its destinations (the rollout is gone: nobody is pinned any more). */
export function withoutPinCookies(route: Json): Json {
  if (!Array.isArray(route.route)) return route;
  return { ...route, route: (route.route as Json[]).map((d) => {
    const add = asObject(asObject(asObject(d.headers).response).add);
    return isPinSetCookie(add['set-cookie']) ? withPinCookie(d, 'stable', undefined, '') : d;
  }) };
}

/**
 * The pin routes in front of the weighted routes `weighted` (already split), in the order of
 * {@link pinRouteNames}. `destinationOf` finds a side's destination in a weighted route.
 */
export function pinRoutes(options: { pin: ReleasePin; weighted: readonly Json[]; destinationOf: (route: Json, side: ReleaseSide) => Json; vsName: string }): Json[] {
  const { pin, weighted, vsName } = options;
  const names = pinRouteNames(pin, weighted.length);
  const sides = pinnedSides(pin);
  const header = pin.header.toLowerCase();
  return weighted.flatMap((route, k) => sides.map((side, s) => {
    const own = Array.isArray(route.match) && route.match.length > 0 ? (route.match as Json[]) : [{}];
    const values = pinHeaderValues(pin, side);
    const conditions: Json[] = [
      { cookie: { regex: pinCookiePattern(pin, side) } },
      { [header]: values.length === 1 ? { exact: values[0] } : { regex: `^(?:${values.map(regexLiteral).join('|')})$` } },
    ];
    const match = own.flatMap((m) => conditions.map((condition) => {
      const headers = asObject(m.headers);
      for (const name of Object.keys(condition)) {
        if (headers[name] !== undefined) {
          throw new IstioRoutingError('pin-conflict', `VirtualService/${vsName}`, `VirtualService "${vsName}": a split route already matches the "${name}" header, which release pinning matches to keep clients on their side`);
        }
      }
      return { ...m, headers: { ...headers, ...condition } };
    }));
    // The user's own headers of that destination serve pinned clients too; the pin cookie is not set again.
    const { weight: _weight, ...destination } = withPinCookie(options.destinationOf(route, side), side, undefined, vsName);
    return { name: names[k * sides.length + s], match, route: [structuredClone(destination)] };
  }));
}
