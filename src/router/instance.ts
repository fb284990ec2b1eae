/**
 * One upstream instance's live state: its keep-alive pool, outstanding and queued requests,
 * outlier state and drain. It outlives route-table swaps for as long as the instance stays in a
 * table, so pools and counters are not lost when the controller rewrites weights.
 */
import http from 'node:http';
import type { CircuitBreakerOptions, RouterEvent, RouterEventType } from './types.js';
import { UpstreamPool } from './upstream-pool.js';

/** Something in flight on an instance that a drain deadline may have to cut. */
export interface Abortable {
  /** Ends the exchange or stream now, as gracefully as its state allows. */
  abortForDrain(): void;
}

/** A request waiting for a free slot on an instance. */
export interface Waiter extends Abortable {
  /** Called when a slot frees up: the waiter now owns it. */
  dispatch(instance: Instance): void;
  /** Called when the instance stops taking requests: the waiter must go elsewhere. */
  reroute(): void;
}

/** What instances need from the router around them. */
export interface InstanceEnvironment {
  breaker: CircuitBreakerOptions;
  /** Connect and idle timeouts of upstream connections. */
  connectMs: number;
  idleMs: number;
  drainTimeoutMs: number;
  probeTimeoutMs: number;
  emit(event: RouterEvent): void;
  /** Called once an instance is fully drained and forgotten. */
  forget(instance: Instance): void;
}

/** Live state of one upstream instance. */
export class Instance {
  /** Keep-alive connections to the upstream. */
  readonly pool: UpstreamPool;
  service = '';
  revision = '';
  ready = false;
  /** Running though not ready (see `InstanceRoute.lastResort`). */
  lastResort = false;
  draining = false;
  /** Requests holding a slot (dispatched to the upstream, response not yet complete). */
  inflight = 0;
  readonly queue: Waiter[] = [];
  /** Exchanges and streams currently using the instance. */
  readonly active = new Set<Abortable>();
  /** Peers in the same revision (the current table's list, including this one). */
  peers: Instance[] = [];
  ejected = false;
  /** Out because another worker of the same router ejected it (that worker probes it). */
  private held = false;
  private consecutiveErrors = 0;
  private ejections = 0;
  private lastReadmitMs = 0;
  private ejectTimer: NodeJS.Timeout | undefined;
  private drainTimer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    readonly id: string,
    readonly address: string,
    readonly host: string,
    readonly port: number,
    private readonly env: InstanceEnvironment,
  ) {
    this.pool = new UpstreamPool({ host, port, connectMs: env.connectMs, idleMs: env.idleMs });
  }

  /** Eligible for new requests (ejection aside). */
  get usable(): boolean {
    return this.ready && !this.draining && !this.closed;
  }

  /**
   * Eligible for a pinned request whose side has no usable instance: running though unready, and
   * not seen failing by this router (an unready instance is never ejected, being nobody's peer in
   * balancing: its failures end its use here instead, until a success or readiness).
   */
  get lastResortUsable(): boolean {
    return this.lastResort && !this.ready && !this.draining && !this.closed && !this.ejected && this.consecutiveErrors < this.env.breaker.consecutiveErrors;
  }

  /** Eligible for new requests, ejection included. */
  get available(): boolean {
    return this.ready && !this.draining && !this.closed && !this.ejected;
  }

  /** Outstanding plus queued requests: the least-request balancer's load figure. */
  get load(): number {
    return this.inflight + this.queue.length;
  }

  /** Takes a slot if one is free. */
  tryAcquire(): boolean {
    if (this.inflight >= this.env.breaker.maxConcurrentRequests) return false;
    this.inflight++;
    return true;
  }

  /** Queues a waiter if the queue has room. */
  enqueue(w: Waiter): boolean {
    if (this.queue.length >= this.env.breaker.maxPendingRequests) return false;
    this.queue.push(w);
    return true;
  }

  /** Removes a waiter that gave up (client went away, timeout). */
  dequeue(w: Waiter): void {
    const i = this.queue.indexOf(w);
    if (i >= 0) this.queue.splice(i, 1);
  }

  /** Frees a slot, handing it to the next waiter. */
  release(): void {
    const next = this.queue.shift();
    if (next) {
      next.dispatch(this);
      return;
    }
    this.inflight--;
    if (this.draining) this.checkDrained();
  }

  /** Records the outcome of an exchange for outlier detection. */
  outcome(ok: boolean, reason: string): void {
    if (ok) {
      this.consecutiveErrors = 0;
      return;
    }
    if (++this.consecutiveErrors < this.env.breaker.consecutiveErrors || this.ejected || this.draining) return;
    // Never take the last usable instance of a revision out: a degraded answer beats none.
    let others = 0;
    for (const p of this.peers) if (p !== this && p.available) others++;
    if (others === 0) return;
    this.eject(`${this.consecutiveErrors} consecutive failures (last: ${reason})`);
  }

  private eject(reason: string): void {
    const now = Date.now();
    const b = this.env.breaker;
    // Healthy for a long stretch since the last readmission: start the backoff over.
    if (!this.ejected && this.lastReadmitMs > 0 && now - this.lastReadmitMs > b.maxEjectionMs) this.ejections = 0;
    const ejectionMs = Math.min(b.maxEjectionMs, b.baseEjectionMs * 2 ** this.ejections);
    this.ejections++;
    this.ejected = true;
    this.emitEvent('instance-ejected', { reason, ejectionMs });
    clearTimeout(this.ejectTimer);
    this.ejectTimer = setTimeout(() => this.probe(), ejectionMs);
    this.ejectTimer.unref();
  }

  /**
   * Another worker of the same router ejected this instance: keep it out as well, for at most
   * `holdMs`, with neither a probe (that worker probes) nor an event (the daemon heard of it
   * once). An instance this router ejected itself is left to its own probe.
   */
  holdOut(holdMs: number): void {
    if (this.closed || (this.ejected && !this.held)) return;
    this.ejected = true;
    this.held = true;
    clearTimeout(this.ejectTimer);
    this.ejectTimer = setTimeout(() => this.endHold(), holdMs);
    this.ejectTimer.unref();
  }

  /** The worker that ejected the instance readmitted it (or is gone): back into balancing. */
  endHold(): void {
    if (!this.held) return;
    this.held = false;
    this.ejected = false;
    this.consecutiveErrors = 0;
    clearTimeout(this.ejectTimer);
  }

  private probe(): void {
    if (this.closed) return;
    let settled = false;
    const done = (ok: boolean, why: string) => {
      if (settled) return;
      settled = true;
      if (this.closed) return;
      if (ok) {
        this.ejected = false;
        this.consecutiveErrors = 0;
        this.lastReadmitMs = Date.now();
        this.emitEvent('instance-readmitted', {});
      } else {
        this.eject(`probe failed: ${why}`);
      }
    };
    const req = http.request({
      host: this.host,
      port: this.port,
      method: 'GET',
      path: this.env.breaker.probePath,
      agent: false,
      timeout: this.env.probeTimeoutMs,
      headers: { 'user-agent': 'graylane-router-probe', connection: 'close' },
    });
    req.on('response', (res) => {
      res.resume();
      done((res.statusCode ?? 500) < 500, `status ${res.statusCode}`);
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', (err) => done(false, err.message));
    req.end();
  }

  /** Stops new requests; in-flight ones get until the drain deadline. Idempotent. */
  drain(): void {
    if (this.draining || this.closed) return;
    this.draining = true;
    this.emitEvent('instance-draining', {});
    this.pool.closeAsReleased(true);
    for (const w of this.queue.splice(0)) w.reroute();
    if (this.checkDrained()) return;
    this.drainTimer = setTimeout(() => {
      const abandoned = this.active.size;
      this.emitEvent('instance-drain-timeout', { abandoned });
      for (const a of [...this.active]) a.abortForDrain();
      this.close();
    }, this.env.drainTimeoutMs);
    this.drainTimer.unref();
  }

  /** Puts a draining instance back into service (it reappeared in a table). */
  undrain(): void {
    if (!this.draining || this.closed) return;
    this.draining = false;
    this.pool.closeAsReleased(false);
    clearTimeout(this.drainTimer);
  }

  /** Destroys pooled sockets nobody is using. */
  closeIdleSockets(): void {
    this.pool.closeIdle();
  }

  /** While draining: called when work finishes; closes the instance once nothing is left. */
  checkDrained(): boolean {
    if (!this.draining || this.closed) return this.closed;
    this.closeIdleSockets();
    if (this.inflight > 0 || this.active.size > 0) return false;
    this.emitEvent('instance-drained', {});
    this.close();
    return true;
  }

  /** Frees everything; the instance is unusable afterwards. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.drainTimer);
    clearTimeout(this.ejectTimer);
    this.pool.destroy();
    this.env.forget(this);
  }

  private emitEvent(type: RouterEventType, extra: Partial<RouterEvent>): void {
    this.env.emit({
      type,
      service: this.service,
      revision: this.revision,
      instance: this.id,
      address: this.address,
      atMs: Date.now(),
      ...extra,
    });
  }
}
