/**
 * PURE: release pinning in an HTTPRoute. The canary and stable backendRefs of every split rule
 * carry a `ResponseHeaderModifier` filter adding the pin cookie of their side (merged into the
 * user's own filter of that type, which the Gateway API allows once per backendRef), and for each
 * split rule two rules `<rollout>.graylane-pin-<side>` repeat its matches with the pin's Cookie
 * header pattern (`RegularExpression`) or the pin header added and send to that side only: having
 * more header matches than the split rule's, they take precedence over it at every Gateway.
 *
 * A pin cookie is recognised by its value (see `isPinSetCookie`), so it is taken away when the pin
 * is gone without anything recorded.
 */
import type { ReleaseSide } from '../../router/contract/index.js';
import { isPinSetCookie, pinCookiePattern, pinHeaderValues, pinnedSides, pinSetCookie, regexLiteral, type ReleasePin } from '../release-pin.js';
import type { BackendRef, HeaderMatch, RouteMatch, RouteRule } from './route-rules.js';

type Json = Record<string, unknown>;
type HeaderEntry = { name: string; value: string };

const isSetCookie = (h: HeaderEntry): boolean => h.name.toLowerCase() === 'set-cookie';

/**
 * `ref` with the pin cookie of `side` added (pin in force) or graylane's pin cookie taken away
 * (none), or the sentence why not: the user's own filter already adds a Set-Cookie there.
 */
export function withPinCookie(ref: BackendRef, side: ReleaseSide, pin: ReleasePin | undefined): { ok: true; ref: BackendRef } | { ok: false; conflict: string } {
  const filters = Array.isArray(ref.filters) ? (ref.filters as Json[]) : [];
  const index = filters.findIndex((f) => f.type === 'ResponseHeaderModifier');
  const modifier = index >= 0 ? ((filters[index]!.responseHeaderModifier ?? {}) as Json) : {};
  const add = Array.isArray(modifier.add) ? (modifier.add as HeaderEntry[]) : [];
  const theirs = add.find((h) => isSetCookie(h) && !isPinSetCookie(h.value));
  if (theirs && pin) return { ok: false, conflict: `the ${side} backendRef "${ref.name}" already adds a Set-Cookie header of its own, where release pinning adds the version cookie (a ResponseHeaderModifier adds one value per header); move that cookie to the application` };
  const kept = add.filter((h) => !(isSetCookie(h) && isPinSetCookie(h.value)));
  const nextAdd = pin ? [...kept, { name: 'Set-Cookie', value: pinSetCookie(pin, side) }] : kept;
  const nextModifier: Json = { ...modifier, add: nextAdd };
  if (nextAdd.length === 0) delete nextModifier.add;
  const nextFilters = [...filters];
  const filter = { type: 'ResponseHeaderModifier', responseHeaderModifier: nextModifier };
  if (Object.keys(nextModifier).length === 0) {
    if (index >= 0) nextFilters.splice(index, 1);
  } else if (index >= 0) {
    nextFilters[index] = { ...filters[index], ...filter };
  } else {
    nextFilters.push(filter);
  }
  const out: BackendRef = { ...ref, filters: nextFilters };
  if (nextFilters.length === 0) delete out.filters;
  return { ok: true, ref: out };
}

/** The pin's header matches of `side`: the Cookie header pattern, and the pin header. */
function pinConditions(pin: ReleasePin, side: ReleaseSide): HeaderMatch[] {
  const values = pinHeaderValues(pin, side);
  return [
    { name: 'Cookie', type: 'RegularExpression', value: pinCookiePattern(pin, side) },
    values.length === 1 ? { name: pin.header, type: 'Exact', value: values[0]! } : { name: pin.header, type: 'RegularExpression', value: `^(?:${values.map(regexLiteral).join('|')})$` },
  ];
}

/**
 * The pin rules in front of the split rules `sources`: per source and side, its matches (a
 * catch-all `/` when it has none) each once with the cookie and once with the header condition.
 * `refOf` finds a side's backendRef (every default written out, weight 1) in a source; `match`
 * adds header matches to a source match the way the provider writes them.
 */
export function pinRules(options: {
  pin: ReleasePin; prefix: string; sources: readonly RouteRule[];
  refOf: (rule: RouteRule, side: ReleaseSide) => BackendRef;
  match: (match: RouteMatch | undefined, headers: HeaderMatch[]) => RouteMatch;
}): RouteRule[] | { conflict: string } {
  const { pin, prefix, sources } = options;
  const sides = pinnedSides(pin);
  const out: RouteRule[] = [];
  for (const [i, source] of sources.entries()) {
    for (const side of sides) {
      const own: (RouteMatch | undefined)[] = (source.matches?.length ?? 0) > 0 ? source.matches! : [undefined];
      const matches: RouteMatch[] = [];
      for (const m of own) {
        for (const condition of pinConditions(pin, side)) {
          if ((m?.headers ?? []).some((h) => h.name.toLowerCase() === condition.name.toLowerCase())) {
            return { conflict: `a split rule already matches the "${condition.name}" header, which release pinning matches to keep clients on their side` };
          }
          matches.push(options.match(m, [condition]));
        }
      }
      const rule: RouteRule = { name: `${prefix}pin-${side}${i > 0 ? `-${i}` : ''}`, matches };
      if (source.filters !== undefined) rule.filters = source.filters;
      rule.backendRefs = [options.refOf(source, side)];
      out.push(rule);
    }
  }
  return out;
}

/** `rules` with graylane's pin cookies taken off every backendRef (the rollout let go of the route). */
export function withoutPinCookies(rules: readonly RouteRule[]): RouteRule[] {
  return rules.map((rule) => (rule.backendRefs === undefined ? rule : {
    ...rule,
    backendRefs: rule.backendRefs.map((ref) => {
      const cleared = withPinCookie(ref, 'stable', undefined);
      return cleared.ok ? cleared.ref : ref;
    }),
  }));
}
