/**
 * Traffic providers keyed by `type`, the key under `trafficRouting` a document names, and how a
 * rollout's spec selects them:
 *
 * - on a single host (an App's services and releases) every service is routed by `builtin`,
 *   whatever the strategy: without `trafficRouting` (rolling updates, replica-ratio canaries) the
 *   built-in router splits by instance counts; another provider named there is refused;
 * - on Kubernetes a canary is routed by each provider its `trafficRouting` names; a canary without
 *   `trafficRouting` and a blue-green rollout are routed by `service-selector`, the Kubernetes
 *   default (Services pointed at a revision's pods; a canary's split follows replica counts), so
 *   steps that need a request-level route are refused.
 *
 * A provider registered with its validate half only (its adapter arrives later) checks documents
 * but cannot be handed a decision.
 */
import type { TrafficPlace } from '../documents/load.js';
import type { RolloutSpec } from '../documents/schema.js';
import { builtinTrafficValidator } from './builtin/builtin-config.js';
import { istioTrafficValidator } from './istio/istio-config.js';
import { nginxTrafficValidator } from './nginx/nginx-config.js';
import { GATEWAY_API_ALIAS, GATEWAY_API_TYPE, gatewayApiTrafficValidator } from './gateway-api/gateway-api-config.js';
import { SERVICE_SELECTOR_TYPE, serviceSelectorTrafficValidator } from './service-selector/service-selector-config.js';
import type { TrafficCapability, TrafficIssue, TrafficProvider } from './traffic-provider.js';
import type { TrafficValidator } from './traffic-validator.js';

export type { TrafficPlace };

/** No provider of that type can be handed decisions: none is registered, or only its validate half. */
export class UnknownTrafficProviderError extends Error {
  readonly code = 'UnknownTrafficProvider';
  constructor(
    /** The type asked for. */
    readonly type: string,
    message: string,
  ) {
    super(message);
    this.name = 'UnknownTrafficProviderError';
  }
}

/** The type that routes every service on a single host. */
export const SINGLE_HOST_PROVIDER = 'builtin';

/** The type that routes a Kubernetes Rollout naming no `trafficRouting` (blue-green, or a canary split by replicas). */
export const KUBERNETES_DEFAULT_PROVIDER = SERVICE_SELECTOR_TYPE;

/** Step kinds that only a routing provider can carry out. */
const ROUTE_STEPS = ['setHeaderRoute', 'setMirrorRoute'] as const;

/**
 * Other keys under `trafficRouting` that select a provider: graylane's own `gatewayAPI` spells
 * Argo's `plugins."argoproj-labs/gatewayAPI"` (the provider's type is Argo's key, `plugins`).
 */
const ALIASES: Readonly<Record<string, readonly string[]>> = { [GATEWAY_API_TYPE]: [GATEWAY_API_ALIAS] };

/** The keys under `trafficRouting` that select `type`. */
function keysOf(type: string): readonly string[] {
  return [type, ...(ALIASES[type] ?? [])];
}

/** Whether `routing` names `type` by any of its keys. */
function namedIn(routing: object, type: string): boolean {
  return keysOf(type).some((k) => (routing as Record<string, unknown>)[k] !== undefined);
}

/** Providers and validate-only providers, by type; registration order is the order they are checked in. */
export class TrafficRegistry {
  private readonly entries = new Map<string, { validator: TrafficValidator; provider?: TrafficProvider }>();

  /** Registers providers (which can apply) and validators (which only check documents); a type at most once. */
  constructor(options: { providers?: readonly TrafficProvider[]; validators?: readonly TrafficValidator[] }) {
    for (const p of options.providers ?? []) this.add(p, p);
    for (const v of options.validators ?? []) this.add(v, undefined);
  }

  private add(validator: TrafficValidator, provider: TrafficProvider | undefined): void {
    if (this.entries.has(validator.type)) throw new Error(`traffic provider "${validator.type}" is registered twice`);
    this.entries.set(validator.type, provider ? { validator, provider } : { validator });
  }

  /** Every registered type, in registration order. */
  types(): string[] {
    return [...this.entries.keys()];
  }

  /** The provider of `type`. Throws {@link UnknownTrafficProviderError} for an unknown or validate-only type. */
  get(type: string): TrafficProvider {
    const entry = this.entries.get(type);
    if (!entry) throw new UnknownTrafficProviderError(type, `no traffic provider "${type}"; known: ${this.types().join(', ') || 'none'}`);
    if (!entry.provider) throw new UnknownTrafficProviderError(type, `traffic provider "${type}" only validates documents here: it cannot route traffic on this platform yet`);
    return entry.provider;
  }

  /** What a registered provider (or validate-only provider) of `type` declares it can do; undefined for an unknown type. */
  capabilitiesOf(type: string): ReadonlySet<TrafficCapability> | undefined {
    return this.entries.get(type)?.validator.capabilities;
  }

  /** The types that route `spec` in `place` (see the module comment); empty when none does. */
  select(spec: RolloutSpec, place: TrafficPlace): string[] {
    if (place === 'single-host') return [SINGLE_HOST_PROVIDER];
    const routing = spec.strategy.canary?.trafficRouting;
    if (!routing) return [KUBERNETES_DEFAULT_PROVIDER];
    return this.types().filter((t) => namedIn(routing, t));
  }

  /** The providers that put `spec`'s decisions in force in `place`; throws {@link UnknownTrafficProviderError} as {@link get}. */
  providersFor(spec: RolloutSpec, place: TrafficPlace): TrafficProvider[] {
    return this.select(spec, place).map((t) => this.get(t));
  }

  /**
   * Every traffic problem of `spec` in `place`: a provider named where it is not used, a route
   * step with no provider to carry it, and what each selected provider's `validate` says. One
   * issue per field: the first provider to speak of a field has its say.
   */
  validate(spec: RolloutSpec, place: TrafficPlace): TrafficIssue[] {
    const out: TrafficIssue[] = [];
    const routing = spec.strategy.canary?.trafficRouting as Record<string, unknown> | undefined;
    if (place === 'single-host') {
      for (const type of this.types()) {
        for (const key of keysOf(type)) {
          if (type !== SINGLE_HOST_PROVIDER && routing?.[key] !== undefined) {
            out.push({ path: ['strategy', 'canary', 'trafficRouting', key], reason: 'not used in an App: its services are routed by the built-in router' });
          }
        }
      }
    } else if (spec.strategy.canary && !routing) {
      (spec.strategy.canary.steps ?? []).forEach((step, i) => {
        for (const kind of ROUTE_STEPS) if (kind in step) out.push({ path: ['strategy', 'canary', 'steps', i, kind], reason: `${kind} needs trafficRouting` });
      });
    }
    for (const type of this.select(spec, place)) {
      const entry = this.entries.get(type);
      if (entry) out.push(...entry.validator.validate(spec));
    }
    const seen = new Set<string>();
    return out.filter((i) => {
      const key = JSON.stringify(i.path);
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    });
  }
}

/**
 * A registry that validates every provider graylane knows, for loading documents where nothing
 * is routed (the CLI's validate and import); composition roots add their providers on top.
 */
export function validationRegistry(providers: readonly TrafficProvider[] = []): TrafficRegistry {
  const given = new Set(providers.map((p) => p.type));
  const validators = [builtinTrafficValidator, nginxTrafficValidator, istioTrafficValidator, gatewayApiTrafficValidator, serviceSelectorTrafficValidator].filter((v) => !given.has(v.type));
  return new TrafficRegistry({ providers, validators });
}
