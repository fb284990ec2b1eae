/**
 * The static runtime: a service whose instances run elsewhere (`targets: [host:port, …]`).
 * graylane only watches their readiness, routes to them and judges them; it never starts, stops
 * or scales them, so those operations are capability errors.
 */
import type { HttpProbe } from '../../documents/schema.js';
import { ChangeEmitter } from '../change-emitter.js';
import { RuntimeCapabilityError, RuntimeInputError } from '../errors.js';
import { httpCheck, tcpCheck } from '../probe.js';
import { ProbeLoop, probeSettings, TCP_FALLBACK_SETTINGS, type ProbeSettings } from '../probe-loop.js';
import type {
  AdoptResult, EnsureInstancesRequest, InstanceChange, InstanceFilter, InstanceInfo, InstanceState, LogLine, Runtime,
  RuntimeCapabilities,
} from '../runtime.js';

/** What a static service runs: fixed targets and, optionally, an HTTP readiness probe. */
export interface StaticTemplate {
  /** `host:port` of each instance. */
  targets: string[];
  /** HTTP readiness probe sent to each target; without it, readiness is a TCP connect. */
  readinessProbe?: HttpProbe;
}

/** Options of {@link StaticRuntime}. */
export interface StaticRuntimeOptions {
  /** Overrides of the TCP readiness check used when the template has no probe. */
  tcpProbe?: Partial<ProbeSettings>;
}

interface Target {
  info: InstanceInfo;
  host: string;
  port: number;
  probe: ProbeLoop;
}

/** Parses `host:port` (IPv6 in brackets allowed); throws a {@link RuntimeInputError} naming the target. */
export function parseTarget(target: string): { host: string; port: number } {
  const m = /^(\[[^\]]+\]|[^:\s[\]]+):(\d{1,5})$/.exec(target);
  const port = Number(m?.[2]);
  if (!m?.[1] || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new RuntimeInputError(`target "${target}" is not host:port with a port between 1 and 65535`);
  }
  return { host: m[1].replace(/^\[(.*)\]$/, '$1'), port };
}

/** Watches instances that something else runs. */
export class StaticRuntime implements Runtime<StaticTemplate> {
  /** Registry key. */
  readonly type = 'static';
  /** Readiness only: no processes, no logs, nothing to adopt. */
  readonly capabilities: RuntimeCapabilities = { processes: false, logs: false, adopt: false };

  private readonly targets = new Map<string, Target>();
  private readonly emitter = new ChangeEmitter();

  constructor(private readonly options: StaticRuntimeOptions = {}) {}

  /**
   * Starts watching the revision's targets. `replicas` must equal the number of targets (the
   * daemon cannot scale what it does not run), or be 0 to stop watching them (they keep running).
   */
  ensureInstances(request: EnsureInstancesRequest<StaticTemplate>): Promise<InstanceInfo[]> {
    const { service, revision, template, replicas } = request;
    if (!Number.isInteger(replicas) || replicas < 0) {
      return Promise.reject(new RuntimeInputError(`replicas for ${service}/${revision} must be a whole number ≥ 0, got ${replicas}`));
    }
    let parsed: { host: string; port: number; address: string }[];
    try {
      if (!Array.isArray(template.targets) || template.targets.length === 0) {
        throw new RuntimeInputError(`static service ${service}/${revision} lists no targets`);
      }
      parsed = template.targets.map((t) => ({ ...parseTarget(t), address: t }));
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
    const current = [...this.targets.values()].filter((t) => t.info.service === service && t.info.revision === revision);
    if (replicas === 0) {
      for (const t of current) this.forget(t);
      return Promise.resolve([]);
    }
    if (replicas !== parsed.length) {
      return Promise.reject(new RuntimeCapabilityError(
        this.type, `scale ${service} to ${replicas} instances`, `it has exactly the ${parsed.length} targets listed in the App file`,
      ));
    }
    const wanted = new Set(parsed.map((p) => this.idOf(service, revision, p.address)));
    for (const t of current) if (!wanted.has(t.info.id)) this.forget(t);
    for (const p of parsed) {
      const id = this.idOf(service, revision, p.address);
      if (!this.targets.has(id)) this.watch(id, service, revision, p, template.readinessProbe);
    }
    return Promise.resolve(this.listInstances({ service, revision }));
  }

  /** {@inheritDoc Runtime.listInstances} */
  listInstances(filter: InstanceFilter = {}): InstanceInfo[] {
    return [...this.targets.values()]
      .map((t) => ({ ...t.info }))
      .filter((i) => (filter.service === undefined || i.service === filter.service) && (filter.revision === undefined || i.revision === filter.revision));
  }

  /** Always a {@link RuntimeCapabilityError}: the targets are run by something else. */
  stopInstance(): Promise<void> {
    return Promise.reject(new RuntimeCapabilityError(this.type, 'stop an instance', 'its targets are run by something else'));
  }

  /** Always a {@link RuntimeCapabilityError}: there is nothing to re-attach to. */
  adopt(): Promise<AdoptResult> {
    return Promise.reject(new RuntimeCapabilityError(this.type, 'adopt instances', 'it runs no processes; list the targets again instead'));
  }

  /** Always a {@link RuntimeCapabilityError}: the targets' output is not ours. */
  readLogs(): AsyncIterable<LogLine> {
    throw new RuntimeCapabilityError(this.type, 'read logs', 'its targets are run by something else, which keeps their output');
  }

  /** {@inheritDoc Runtime.on} */
  on(event: 'change', listener: (change: InstanceChange) => void): () => void {
    return this.emitter.on(event, listener);
  }

  /** Stops probing. There is nothing to stop, whatever `stopInstances` says. */
  shutdown(_options: { stopInstances: boolean }): Promise<void> {
    for (const t of this.targets.values()) t.probe.stop();
    this.targets.clear();
    return Promise.resolve();
  }

  private idOf(service: string, revision: string, address: string): string {
    return `${service}-${revision}-${address}`;
  }

  private watch(id: string, service: string, revision: string, p: { host: string; port: number; address: string }, probe: HttpProbe | undefined): void {
    const info: InstanceInfo = { id, service, revision, address: p.address, state: 'starting', restarts: 0, startedAtMs: Date.now() };
    const settings = probe ? probeSettings(probe) : { ...TCP_FALLBACK_SETTINGS, ...this.options.tcpProbe };
    const target: Target = {
      info, host: p.host, port: p.port,
      probe: new ProbeLoop({
        settings,
        check: (timeoutMs) => probe
          ? httpCheck({ host: p.host, port: probe.httpGet.port ?? p.port, path: probe.httpGet.path, timeoutMs })
          : tcpCheck({ host: p.host, port: p.port, timeoutMs }),
        onVerdict: (verdict, detail) => {
          if (this.targets.get(id) !== target) return;
          if (verdict === 'fail') info.lastError = `readiness probe failed: ${detail}`;
          this.setState(target, verdict === 'pass' ? 'ready' : 'unready');
        },
      }),
    };
    this.targets.set(id, target);
    this.emitter.emit({ instance: { ...info }, previousState: 'starting' });
  }

  private forget(target: Target): void {
    target.probe.stop();
    this.targets.delete(target.info.id);
    this.setState(target, 'stopped');
  }

  private setState(target: Target, state: InstanceState): void {
    const previousState = target.info.state;
    target.info.state = state;
    this.emitter.emit({ instance: { ...target.info }, previousState });
  }
}
