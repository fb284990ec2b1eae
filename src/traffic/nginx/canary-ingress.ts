/**
 * The canary Ingress for one stable Ingress, pure: what ingress-nginx must read to split a
 * rollout's traffic as the engine decided. Argo Rollouts' shape, so that dashboards, alerts and
 * habits carry over: named `<rollout>-<stableIngress>-canary`, the stable Ingress's TLS,
 * `ingressClassName` and `kubernetes.io/ingress.class`, its paths whose backend is the stable
 * Service rewritten to the canary Service, `canary: "true"` and `canary-weight`. Unlike Argo, a
 * rule keeps only those paths (Argo keeps a rule's other paths too, which turns them into canaries
 * of Services the rollout does not own), and header and cookie routes are carried out instead of
 * ignored (argo-rollouts#2830).
 */
import type { V1HTTPIngressPath, V1Ingress, V1IngressRule, V1OwnerReference } from '@kubernetes/client-node';
import type { RolloutSpec } from '../../documents/schema.js';
import type { HeaderRoute, TrafficInForce } from '../../engine/index.js';
import { MANAGED_BY_ANNOTATION } from '../../kube/names.js';
import type { ReleasePin } from '../release-pin.js';
import { DEFAULT_ANNOTATION_PREFIX } from './nginx-config.js';
import { NginxIngressError } from './nginx-ingress-error.js';

/** The legacy class annotation ingress-nginx still honours; a canary Ingress must carry its stable Ingress's. */
export const INGRESS_CLASS_ANNOTATION = 'kubernetes.io/ingress.class';

const CANARY_SUFFIX = '-canary';
const MAX_NAME_CHARS = 253;

/** `<rollout>-<stableIngress>-canary`, cut to the 253 characters of an object name as Argo cuts it. */
export function canaryIngressName(rollout: string, stableIngress: string): string {
  return `${rollout}-${stableIngress}`.slice(0, MAX_NAME_CHARS - CANARY_SUFFIX.length) + CANARY_SUFFIX;
}

/** `annotationPrefix`, else `nginx.ingress.kubernetes.io`. */
export function annotationPrefix(spec: RolloutSpec | undefined): string {
  return spec?.strategy.canary?.trafficRouting?.nginx?.annotationPrefix ?? DEFAULT_ANNOTATION_PREFIX;
}

/** A regular expression matching text that starts with `prefix`. */
function startsWithPattern(prefix: string): string {
  return `^${prefix.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`;
}

/**
 * The routing annotations for `traffic` (no prefix): `canary-by-header*` for the one header route
 * in force and `canary-by-cookie` for the one cookie route. Throws {@link NginxIngressError}
 * (`UnrepresentableRoutes`) for routes ingress-nginx cannot read from one canary Ingress.
 */
function routeAnnotations(routes: readonly HeaderRoute[]): Record<string, string> {
  const conditions = routes.flatMap((r) => r.match.map((m) => ({ route: r.name, m })));
  const several = routes.find((r) => r.match.length > 1);
  if (several) throw new NginxIngressError('UnrepresentableRoutes', `header route "${several.name}" needs ${several.match.length} conditions at once; an ingress-nginx canary Ingress matches one header or one cookie`);
  const headers = conditions.filter((c) => c.m.headerName !== undefined);
  const cookies = conditions.filter((c) => c.m.cookieName !== undefined);
  if (headers.length > 1) throw new NginxIngressError('UnrepresentableRoutes', `header routes ${headers.map((h) => `"${h.route}"`).join(' and ')} are in force together; an ingress-nginx canary Ingress matches one header (canary-by-header)`);
  if (cookies.length > 1) throw new NginxIngressError('UnrepresentableRoutes', `cookie routes ${cookies.map((c) => `"${c.route}"`).join(' and ')} are in force together; an ingress-nginx canary Ingress matches one cookie (canary-by-cookie)`);
  const out: Record<string, string> = {};
  const header = headers[0]?.m;
  if (header?.headerName !== undefined) {
    out['canary-by-header'] = header.headerName;
    const v = header.headerValue;
    if (v?.exact !== undefined) out['canary-by-header-value'] = v.exact;
    else if (v?.regex !== undefined) out['canary-by-header-pattern'] = v.regex;
    else if (v?.prefix !== undefined) out['canary-by-header-pattern'] = startsWithPattern(v.prefix);
    // Present with any value: without a value or pattern nginx would want the value `always`.
    else out['canary-by-header-pattern'] = '.*';
  }
  const cookie = cookies[0];
  if (cookie?.m.cookieName !== undefined) {
    if (cookie.m.cookieValue?.exact !== 'always') {
      throw new NginxIngressError('UnrepresentableRoutes', `cookie route "${cookie.route}" matches a value other than "always"; ingress-nginx's canary-by-cookie sends a client to the canary only when the cookie says "always"`);
    }
    out['canary-by-cookie'] = cookie.m.cookieName;
  }
  return out;
}

/**
 * A release's pins on a canary Ingress: `canary-by-header` and `canary-by-cookie` with the pin's
 * header and cookie names and no value or pattern, so that ingress-nginx reads the value itself:
 * `always` sends the request to the canary, `never` to stable, anything else (or none) to the
 * weight. Those values cannot carry the release and generation, and nothing on a canary Ingress
 * can set a cookie, so the assignment is the application's (or a middleware's): the version that
 * served a client sets the cookie to `always` or `never`. Throws while a header route is in force:
 * a canary Ingress has one `canary-by-header` and one `canary-by-cookie`.
 */
function pinAnnotations(pin: ReleasePin, routes: readonly HeaderRoute[]): Record<string, string> {
  if (routes.length > 0) {
    throw new NginxIngressError('UnrepresentableRoutes', `header route "${routes[0]!.name}" is in force while release "${pin.release}" pins clients; ingress-nginx pins through the canary Ingress's one canary-by-header and canary-by-cookie, so a release with pinning cannot set header routes on it`);
  }
  return { 'canary-by-header': pin.header, 'canary-by-cookie': pin.cookie };
}

/**
 * Every annotation the canary Ingresses of `spec` carry for `traffic`, keyed in full, except the
 * class annotation copied from each stable Ingress: `additionalIngressAnnotations` (under the
 * prefix unless already there, as Argo), `canaryIngressAnnotations` as written, then the canary,
 * weight and route annotations, which win over both, and graylane's managed-by annotation.
 */
export function canaryAnnotations(spec: RolloutSpec | undefined, traffic: TrafficInForce, rollout: string, pin?: ReleasePin): Record<string, string> {
  const routing = spec?.strategy.canary?.trafficRouting;
  const prefix = annotationPrefix(spec);
  const key = (k: string): string => (k.startsWith(prefix) ? k : `${prefix}/${k}`);
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(routing?.nginx?.additionalIngressAnnotations ?? {})) out[key(k)] = v;
  for (const [k, v] of Object.entries(routing?.nginx?.canaryIngressAnnotations ?? {})) out[k] = v;
  const routes = pin ? pinAnnotations(pin, traffic.headerRoutes) : routeAnnotations(traffic.headerRoutes);
  // The decision's routes replace any route the user wrote among the additional annotations.
  if (Object.keys(routes).some((k) => k.startsWith('canary-by-header'))) {
    for (const k of ['canary-by-header', 'canary-by-header-value', 'canary-by-header-pattern']) delete out[key(k)];
  }
  if (routes['canary-by-cookie'] !== undefined) delete out[key('canary-by-cookie')];
  out[key('canary')] = 'true';
  out[key('canary-weight')] = String(traffic.canaryWeight);
  if (routing?.maxTrafficWeight !== undefined) out[key('canary-weight-total')] = String(routing.maxTrafficWeight);
  for (const [k, v] of Object.entries(routes)) out[key(k)] = v;
  out[MANAGED_BY_ANNOTATION] = rollout;
  return out;
}

/** Input of {@link desiredCanaryIngress}. */
export interface DesiredCanaryIngressInput {
  /** The user's stable Ingress, as read. */
  stable: V1Ingress;
  /** The Rollout's name. */
  rollout: string;
  /** The stable Service: paths with this backend are cloned. */
  stableService: string;
  /** The canary Service the cloned paths point at. */
  canaryService: string;
  /** From {@link canaryAnnotations}. */
  annotations: Readonly<Record<string, string>>;
  /** The Rollout, as the canary Ingress's controller owner (garbage-collected with it). */
  owner: V1OwnerReference;
}

/**
 * The canary Ingress cloned from `stable`. Throws {@link NginxIngressError}
 * (`NoStableServiceRule`) when no path of `stable` has the stable Service as its backend.
 */
export function desiredCanaryIngress(input: DesiredCanaryIngressInput): V1Ingress {
  const { stable } = input;
  const stableName = stable.metadata?.name ?? '';
  const rules: V1IngressRule[] = [];
  for (const rule of stable.spec?.rules ?? []) {
    const paths: V1HTTPIngressPath[] = (rule.http?.paths ?? [])
      .filter((p) => p.backend.service?.name === input.stableService)
      .map((p) => ({ ...structuredClone(p), backend: { service: { ...structuredClone(p.backend.service), name: input.canaryService } } }));
    if (paths.length > 0) rules.push({ ...(rule.host !== undefined ? { host: rule.host } : {}), http: { paths } });
  }
  if (rules.length === 0) {
    throw new NginxIngressError('NoStableServiceRule', `Ingress "${stableName}" has no rule whose backend is the stable Service "${input.stableService}": there is nothing to send to the canary`, stableName);
  }
  const annotations: Record<string, string> = { ...input.annotations };
  const cls = stable.metadata?.annotations?.[INGRESS_CLASS_ANNOTATION];
  if (cls !== undefined) annotations[INGRESS_CLASS_ANNOTATION] = cls;
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'Ingress',
    metadata: {
      name: canaryIngressName(input.rollout, stableName),
      ...(stable.metadata?.namespace !== undefined ? { namespace: stable.metadata.namespace } : {}),
      annotations,
      ownerReferences: [{ ...input.owner, controller: true, blockOwnerDeletion: true }],
    },
    spec: {
      ...(stable.spec?.ingressClassName !== undefined ? { ingressClassName: stable.spec.ingressClassName } : {}),
      ...(stable.spec?.tls !== undefined ? { tls: structuredClone(stable.spec.tls) } : {}),
      rules,
    },
  };
}
