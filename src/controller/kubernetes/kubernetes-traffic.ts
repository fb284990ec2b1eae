/**
 * The traffic of a Rollout on Kubernetes, as one provider for the core: the Service selector
 * always (Argo's rule: the stable and canary Services point at their revisions' pods, with or
 * without a traffic router), then each router the Rollout's `trafficRouting` names (ingress-nginx,
 * Istio, Gateway API) for the request-level split. A decision is verified only when every one of
 * them says so. A router named but not offered by this controller (its API not installed, or not
 * built yet) is refused at validate time with a sentence, never skipped.
 */
import type { RolloutSpec } from '../../documents/schema.js';
import type { TrafficInForce } from '../../engine/index.js';
import { KUBERNETES_DEFAULT_PROVIDER, type TrafficRegistry } from '../../traffic/registry.js';
import type { ReleasePin } from '../../traffic/release-pin.js';
import type { TrafficCapability, TrafficDecision, TrafficIssue, TrafficProvider, Verification } from '../../traffic/traffic-provider.js';

/** Options of {@link KubernetesTraffic}. */
export interface KubernetesTrafficOptions {
  /** The Service-selector provider: every Rollout's Services. */
  services: TrafficProvider;
  /** Every provider this controller can apply (the Service selector among them) and validators of the rest. */
  registry: TrafficRegistry;
  /**
   * Whether the API a router drives is served by this cluster (Istio's and Gateway API's CRDs
   * are optional): a router whose API is not served is not applicable. Default: all are.
   */
  served?: ((type: string) => boolean) | undefined;
  /** The release pins a service's routers carry (its Release's, while it progresses); none by default. */
  pinOf?: ((namespace: string, service: string) => ReleasePin | undefined) | undefined;
  /**
   * The traffic a service's Services and routers carry, from its engine's decision: its release's
   * rules while pins are handed out (release-pins.ts). Default: the decision as it is.
   */
  releaseTrafficOf?: ((namespace: string, service: string, traffic: TrafficInForce) => TrafficInForce) | undefined;
}

/** See the file comment. */
export class KubernetesTraffic implements TrafficProvider {
  /** Not a `trafficRouting` key: the composition of those a Rollout names. */
  readonly type = 'kubernetes';
  /** What the Service selector and every applicable router can do together. */
  readonly capabilities: ReadonlySet<TrafficCapability>;

  constructor(private readonly options: KubernetesTrafficOptions) {
    const all = new Set<TrafficCapability>(options.services.capabilities);
    for (const type of options.registry.types()) {
      const provider = this.applicable(type);
      if (provider) for (const c of provider.capabilities) all.add(c);
    }
    this.capabilities = all;
  }

  /** The registry's check of `spec` on Kubernetes, and a sentence for each router named that this controller cannot apply. */
  validate(spec: RolloutSpec): TrafficIssue[] {
    const { registry } = this.options;
    const issues = registry.validate(spec, 'kubernetes');
    for (const type of registry.select(spec, 'kubernetes')) {
      if (type !== KUBERNETES_DEFAULT_PROVIDER && this.applicable(type) === undefined) {
        issues.push({ path: ['strategy', 'canary', 'trafficRouting', type], reason: `this controller cannot route through "${type}" (its API is not served by this cluster, or graylane does not drive it on Kubernetes yet)` });
      }
    }
    return issues;
  }

  /** The Services first (the routers' backends must select the right pods before weights move), then each router. */
  async apply(engineDecision: TrafficDecision): Promise<void> {
    const decision = this.released(engineDecision);
    // Request-level routes are the routers' to carry; the Services only select each revision's pods.
    await this.options.services.apply({ ...decision, traffic: { ...decision.traffic, headerRoutes: [], mirrorRoutes: [] } });
    const routed = this.pinned(decision);
    for (const router of this.routers(decision.spec)) await router.apply(routed);
  }

  /** `pending` while any member is; `verified` once all are. */
  async verify(engineDecision: TrafficDecision): Promise<Verification> {
    const decision = this.released(engineDecision);
    const services = { ...decision, traffic: { ...decision.traffic, headerRoutes: [], mirrorRoutes: [] } };
    const members = [this.options.services, ...this.routers(decision.spec)].filter((p) => p.capabilities.has('verify'));
    const routed = this.pinned(decision);
    const results = await Promise.all(members.map((p) => p.verify(p === this.options.services ? services : routed)));
    if (results.includes('pending')) return 'pending';
    return results.includes('verified') ? 'verified' : 'unsupported';
  }

  /** Every member gives back what it manages for the Rollout (a deleted Rollout names no router any more, so all are asked). */
  async removeManagedRoutes(key: { namespace: string; service: string }): Promise<void> {
    await this.options.services.removeManagedRoutes(key);
    for (const type of this.options.registry.types()) {
      const provider = this.applicable(type);
      if (provider && provider !== this.options.services) await provider.removeManagedRoutes(key);
    }
  }

  /** The decision as the release has it carried, read now (the Services and routers are written in separate passes per member). */
  private released(decision: TrafficDecision): TrafficDecision {
    const traffic = this.options.releaseTrafficOf?.(decision.namespace, decision.service, decision.traffic) ?? decision.traffic;
    return traffic === decision.traffic ? decision : { ...decision, traffic };
  }

  /** The decision as the routers take it: with the service's release pins, read now (a pin is the Release's, not the engine's). */
  private pinned(decision: TrafficDecision): TrafficDecision {
    const release = this.options.pinOf?.(decision.namespace, decision.service);
    return release === undefined ? decision : { ...decision, release };
  }

  private routers(spec: RolloutSpec | undefined): TrafficProvider[] {
    if (spec === undefined) return [];
    return this.options.registry.select(spec, 'kubernetes').filter((t) => t !== KUBERNETES_DEFAULT_PROVIDER).flatMap((t) => this.applicable(t) ?? []);
  }

  private applicable(type: string): TrafficProvider | undefined {
    if (this.options.served?.(type) === false) return undefined;
    try {
      return this.options.registry.get(type);
    } catch {
      return undefined;
    }
  }
}
