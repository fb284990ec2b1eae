/**
 * ingress-nginx (`trafficRouting.nginx`), the validate half: what the provider can do and the
 * check of a spec, shared by the document loader (through the registry) and the adapter
 * (nginx-provider.ts). ingress-nginx reads a canary Ingress's annotations, and they can say only
 * so much: one weight, one header (`canary-by-header`, with one value or one pattern) and one
 * cookie (`canary-by-cookie`, which sends a client to the canary when the cookie says `always`).
 * A route that needs more than that is refused here, with a sentence, rather than half-applied.
 */
import type { RolloutSpec } from '../../documents/schema.js';
import { capabilityIssues } from '../capability-checks.js';
import type { TrafficCapability, TrafficIssue } from '../traffic-provider.js';
import type { TrafficValidator } from '../traffic-validator.js';

/** The provider's type: the key under `trafficRouting`. */
export const NGINX_TYPE = 'nginx';

/** Where ingress-nginx reads its annotations unless `annotationPrefix` says otherwise (as Argo). */
export const DEFAULT_ANNOTATION_PREFIX = 'nginx.ingress.kubernetes.io';

/** The cookie value ingress-nginx's `canary-by-cookie` sends to the canary. */
export const CANARY_COOKIE_VALUE = 'always';

/**
 * Canary Ingress annotations split by weight (`canary-weight`) and match one header
 * (`canary-by-header`) or cookie (`canary-by-cookie`), with which they also keep a release's
 * clients on the side the application pinned them to; they cannot mirror to the canary.
 */
export const NGINX_CAPABILITIES: ReadonlySet<TrafficCapability> = new Set(['weight', 'headerRoute', 'cookieRoute', 'releasePinning', 'verify']);

/** The stable Ingresses a spec names (`stableIngress` or `stableIngresses`), in spec order, without repeats. */
export function stableIngressNames(spec: RolloutSpec | undefined): string[] {
  const nginx = spec?.strategy.canary?.trafficRouting?.nginx;
  if (!nginx) return [];
  return [...new Set([...(nginx.stableIngress !== undefined ? [nginx.stableIngress] : []), ...(nginx.stableIngresses ?? [])])];
}

/** Checks `trafficRouting.nginx` of a rollout spec; see {@link nginxTrafficValidator}. */
export function validateNginx(spec: RolloutSpec): TrafficIssue[] {
  const c = spec.strategy.canary;
  const nginx = c?.trafficRouting?.nginx;
  // Without its configuration (a blue-green spec handed to it), only what it cannot do is reported.
  if (!c || !nginx) return capabilityIssues('trafficRouting.nginx', NGINX_CAPABILITIES, spec);
  const at = ['strategy', 'canary', 'trafficRouting', 'nginx'];
  const out: TrafficIssue[] = [];
  if (!nginx.stableIngress && !nginx.stableIngresses) out.push({ path: at, reason: 'needs stableIngress or stableIngresses' });
  if (nginx.stableIngress && nginx.stableIngresses) out.push({ path: [...at, 'stableIngresses'], reason: 'use either stableIngress or stableIngresses, not both' });
  // The canary Ingress points at canaryService, the stable one at stableService.
  for (const field of ['canaryService', 'stableService'] as const) {
    if (c[field] === undefined) out.push({ path: ['strategy', 'canary', field], reason: 'required with trafficRouting.nginx' });
  }
  out.push(...routeIssues(spec));
  return [...out, ...capabilityIssues('trafficRouting.nginx', NGINX_CAPABILITIES, spec)];
}

/** The `setHeaderRoute` steps a canary Ingress's annotations cannot say. */
function routeIssues(spec: RolloutSpec): TrafficIssue[] {
  const out: TrafficIssue[] = [];
  (spec.strategy.canary?.steps ?? []).forEach((step, i) => {
    if (!('setHeaderRoute' in step)) return;
    const path = ['strategy', 'canary', 'steps', i, 'setHeaderRoute'];
    const match = step.setHeaderRoute.match ?? [];
    if (match.length > 1) {
      out.push({ path, reason: 'ingress-nginx matches one header (canary-by-header) or one cookie (canary-by-cookie) per canary Ingress; a second condition in one setHeaderRoute cannot be carried out: use one match' });
    }
    match.forEach((m, j) => {
      const cookie = m.cookieValue;
      if (m.cookieName !== undefined && (cookie?.exact !== CANARY_COOKIE_VALUE || cookie.prefix !== undefined || cookie.regex !== undefined)) {
        out.push({ path: [...path, 'match', j, 'cookieValue'], reason: `ingress-nginx's canary-by-cookie sends a client to the canary only when the cookie's value is "${CANARY_COOKIE_VALUE}": use cookieValue: {exact: ${CANARY_COOKIE_VALUE}}` });
      }
    });
  });
  return out;
}

/**
 * Why a member routed by ingress-nginx cannot run a release's steps with pinning (undefined when
 * it can): the pins take the canary Ingress's one `canary-by-header` and `canary-by-cookie`, so a
 * `setHeaderRoute` step of the release would need them too.
 */
export function nginxPinningIssue(spec: RolloutSpec): string | undefined {
  if (spec.strategy.canary?.trafficRouting?.nginx === undefined) return undefined;
  const step = (spec.strategy.canary.steps ?? []).findIndex((s) => 'setHeaderRoute' in s);
  if (step < 0) return undefined;
  return `spec.strategy.canary.steps[${step}].setHeaderRoute: with pinning, ingress-nginx keeps pinned clients through the canary Ingress's one canary-by-header and canary-by-cookie, which a header route would need too; remove the header route from the release's steps, or pinning from the release`;
}

/** ingress-nginx, validate half (the registry's entry for documents; the adapter reuses it). */
export const nginxTrafficValidator: TrafficValidator = { type: NGINX_TYPE, capabilities: NGINX_CAPABILITIES, validate: validateNginx };
