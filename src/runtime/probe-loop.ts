/** Runs a check on a period and turns consecutive results into pass/fail verdicts (thresholds). */
import type { HttpProbe } from '../documents/schema.js';
import type { CheckResult } from './probe.js';

/** Timing and thresholds of a probe, in ms. */
export interface ProbeSettings {
  initialDelayMs: number;
  periodMs: number;
  /** Period used until the first pass (fast start for the TCP fallback); default `periodMs`. */
  periodUntilPassMs?: number;
  timeoutMs: number;
  failureThreshold: number;
  successThreshold: number;
}

/** Readiness without a probe: poll the port quickly until it accepts, then watch it calmly. */
export const TCP_FALLBACK_SETTINGS: ProbeSettings = {
  initialDelayMs: 0,
  periodMs: 5_000,
  periodUntilPassMs: 200,
  timeoutMs: 1_000,
  failureThreshold: 3,
  successThreshold: 1,
};

/** Settings of a document probe with Kubernetes' defaults (period 10s, timeout 1s, thresholds 3/1). */
export function probeSettings(probe: HttpProbe): ProbeSettings {
  return {
    initialDelayMs: (probe.initialDelaySeconds ?? 0) * 1000,
    periodMs: (probe.periodSeconds ?? 10) * 1000,
    timeoutMs: (probe.timeoutSeconds ?? 1) * 1000,
    failureThreshold: probe.failureThreshold ?? 3,
    successThreshold: probe.successThreshold ?? 1,
  };
}

/** A verdict: reached when a threshold of consecutive results is crossed. */
export type Verdict = 'pass' | 'fail';

/** Arguments of {@link ProbeLoop}. */
export interface ProbeLoopOptions {
  settings: ProbeSettings;
  check: (timeoutMs: number) => Promise<CheckResult>;
  /** Called when the verdict changes (and for the first verdict); `detail` is the last check's. */
  onVerdict: (verdict: Verdict, detail: string) => void;
  /** Called after every check, for bookkeeping such as the last error. */
  onCheck?: (result: CheckResult) => void;
  /** Skip the initial delay (adoption: the process has been running for a while). */
  immediate?: boolean;
}

/** A periodic probe; `stop()` makes any in-flight result irrelevant. */
export class ProbeLoop {
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private successes = 0;
  private failures = 0;
  private verdict: Verdict | undefined;

  constructor(private readonly options: ProbeLoopOptions) {
    this.schedule(options.immediate ? 0 : options.settings.initialDelayMs);
  }

  /** The current verdict, undefined until a threshold was first crossed. */
  get current(): Verdict | undefined {
    return this.verdict;
  }

  /** Stops the loop; idempotent. */
  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.tick(), Math.max(0, delayMs));
    this.timer.unref();
  }

  private async tick(): Promise<void> {
    const startedMs = Date.now();
    const { settings } = this.options;
    let result: CheckResult;
    try {
      result = await this.options.check(settings.timeoutMs);
    } catch (err) {
      result = { ok: false, detail: err instanceof Error ? err.message : String(err) };
    }
    if (this.stopped) return;
    this.options.onCheck?.(result);
    if (result.pending) {
      // Neither outcome: thresholds count only real answers.
    } else if (result.ok) {
      this.successes += 1;
      this.failures = 0;
      if (this.successes >= settings.successThreshold && this.verdict !== 'pass') this.decide('pass', result.detail);
    } else {
      this.failures += 1;
      this.successes = 0;
      if (this.failures >= settings.failureThreshold && this.verdict !== 'fail') this.decide('fail', result.detail);
    }
    if (this.stopped) return;
    const period = this.verdict === 'pass' ? settings.periodMs : (settings.periodUntilPassMs ?? settings.periodMs);
    this.schedule(period - (Date.now() - startedMs));
  }

  private decide(verdict: Verdict, detail: string): void {
    this.verdict = verdict;
    this.options.onVerdict(verdict, detail);
  }
}
