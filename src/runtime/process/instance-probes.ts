/**
 * Readiness and liveness of a process instance: the probe loops of one process generation, the
 * grace a starting process gets, and the check that the answering port is really held by it.
 */
import type { ProcessTemplate } from '../../documents/schema.js';
import { httpCheck, tcpCheck, type CheckResult } from '../probe.js';
import { ProbeLoop, probeSettings, TCP_FALLBACK_SETTINGS } from '../probe-loop.js';
import type { InstanceState } from '../runtime.js';
import type { KillReason, ManagedInstance } from './managed-instance.js';
import { portOwnership } from './proc-fs.js';

/** What the probes need of the runtime around them. */
export interface ProbeContext {
  /** Interface the instances are reached on. */
  host: string;
  /** Whether the runtime was shut down (verdicts are then ignored). */
  isClosed: () => boolean;
  /** Reports a state change of `inst`. */
  emit: (inst: ManagedInstance, previousState: InstanceState) => void;
  /** Kills the current process so that it is relaunched (see the lifecycle). */
  killForRestart: (inst: ManagedInstance, kind: KillReason['kind'], message: string) => void;
}

/**
 * Starts the probe loops of `generation`: readiness always (TCP when the template has no probe),
 * liveness when the template has one. `immediate` checks at once (an adopted, running process).
 */
export function startProbes(ctx: ProbeContext, inst: ManagedInstance, generation: number, immediate: boolean): void {
  const { readinessProbe, livenessProbe } = inst.template;
  const current = () => generation === inst.generation && inst.state !== 'stopping' && !ctx.isClosed();
  inst.readiness = new ProbeLoop({
    settings: readinessProbe ? probeSettings(readinessProbe) : TCP_FALLBACK_SETTINGS,
    immediate,
    check: async (timeoutMs) => await verifyOwnership(ctx, inst, startingGrace(inst, await check(ctx.host, inst, readinessProbe, timeoutMs))),
    // Kept for `status` without an event per check: a probe period can be 200 ms.
    onCheck: (result) => {
      if (current()) inst.lastProbe = { outcome: result.pending ? 'pending' : result.ok ? 'pass' : 'fail', detail: result.detail, atMs: Date.now() };
    },
    onVerdict: (verdict, detail) => {
      if (!current()) return;
      const previous = inst.state;
      if (verdict === 'pass') {
        inst.state = 'ready';
        inst.readyOnce = true;
        inst.restartsSinceReady = 0;
      } else {
        inst.state = 'unready';
        inst.lastError = `readiness probe failed: ${detail}`;
      }
      ctx.emit(inst, previous);
    },
  });
  if (livenessProbe) {
    inst.liveness = new ProbeLoop({
      settings: probeSettings(livenessProbe),
      immediate,
      check: async (timeoutMs) => startingGrace(inst, await check(ctx.host, inst, livenessProbe, timeoutMs)),
      onVerdict: (verdict, detail) => {
        if (verdict !== 'fail' || !current()) return;
        ctx.killForRestart(inst, 'liveness', `liveness probe failed: ${detail}; restarting`);
      },
    });
  }
}

function check(host: string, inst: ManagedInstance, probe: ProcessTemplate['readinessProbe'], timeoutMs: number): Promise<CheckResult> {
  if (!probe) return tcpCheck({ host, port: inst.port, timeoutMs });
  return httpCheck({
    host, port: probe.httpGet.port ?? inst.port, path: probe.httpGet.path, timeoutMs,
    headers: { 'x-graylane-instance': inst.id },
  });
}

/**
 * A process that has not opened its port yet is starting, not failing: a refused connection before
 * the first readiness does not count toward the thresholds (the daemon's progress deadline bounds
 * a start that never ends). Once ready, a refused connection is a failure like any other.
 */
function startingGrace(inst: ManagedInstance, result: CheckResult): CheckResult {
  return !inst.readyOnce && result.refused ? { ...result, pending: true } : result;
}

/**
 * Another process may grab the port between our pick and the child's bind; its answers must not
 * make our instance ready. Checked until the process was first ready (a listening socket cannot
 * be taken over afterwards). Persisting for the failure threshold: relaunch on a fresh port.
 */
async function verifyOwnership(ctx: ProbeContext, inst: ManagedInstance, result: CheckResult): Promise<CheckResult> {
  if (!result.ok || inst.readyOnce || inst.pid === undefined) return result;
  const { pid, port } = inst;
  const owner = await portOwnership(port, pid);
  // The instance was relaunched while /proc was read: this answer is about the old process.
  if (inst.pid !== pid || inst.port !== port) return { ok: false, detail: 'relaunched while being checked' };
  if (owner === 'ours' || owner === 'unknown') return result;
  const detail = owner === 'foreign'
    ? `port ${inst.port} answers but is held by another process, not by this instance`
    : `nothing of this instance listens on port ${inst.port}`;
  inst.foreignPortStrikes += 1;
  const threshold = inst.template.readinessProbe?.failureThreshold ?? 3;
  if (owner === 'foreign' && inst.foreignPortStrikes >= threshold && inst.restartable) {
    inst.port = 0;
    ctx.killForRestart(inst, 'port', `${detail}; relaunching on another port`);
  }
  return { ok: false, detail };
}
