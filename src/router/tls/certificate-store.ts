/**
 * The certificates in force, per host, for the TLS listener's SNI callback; rebuilt from the
 * files when they change. A replacement that cannot be used (half-written, a key that is not the
 * certificate's) leaves the working certificate in place and says why: renewing a certificate
 * must never take HTTPS down.
 */
import type { SecureContext } from 'node:tls';
import type { CertificateEvent } from '../types.js';
import { CertificateFileError, reloadCertificate, stampCertificate, type LoadedCertificate } from './certificates.js';

/** Options of {@link CertificateStore}. */
export interface CertificateStoreOptions {
  /** The certificates loaded at start (see `loadCertificates`); the first is the default. */
  certificates: LoadedCertificate[];
  /** Told of every reload and every refused change. */
  onEvent: (event: CertificateEvent) => void;
  /** Called when the default (first) certificate changed, for clients that send no SNI. */
  onDefaultChanged: (cert: LoadedCertificate) => void;
}

/** See the module comment. */
export class CertificateStore {
  private readonly entries: LoadedCertificate[];
  private exact = new Map<string, LoadedCertificate>();
  private wildcard = new Map<string, LoadedCertificate>();
  /** Stamps of changes already refused, so a bad file is reported once, not at every check. */
  private readonly refused = new Map<number, string>();
  private timer: NodeJS.Timeout | undefined;
  private checking = false;

  constructor(private readonly options: CertificateStoreOptions) {
    this.entries = [...options.certificates];
    this.index();
  }

  /** The certificate for an SNI server name: exact host, then a one-label wildcard, else the first. */
  lookup(servername: string | undefined): LoadedCertificate {
    const name = (servername ?? '').toLowerCase();
    const hit = this.exact.get(name);
    if (hit) return hit;
    const dot = name.indexOf('.');
    return (dot > 0 ? this.wildcard.get(name.slice(dot + 1)) : undefined) ?? this.entries[0]!;
  }

  /** node:tls's `SNICallback`. */
  readonly sniCallback = (servername: string, cb: (err: Error | null, ctx?: SecureContext) => void): void => {
    cb(null, this.lookup(servername).context);
  };

  /** Checks the files every `intervalMs` (the timer does not keep the process alive). */
  watch(intervalMs: number): void {
    this.timer ??= setInterval(() => void this.check(), intervalMs);
    this.timer.unref();
  }

  /** Stops checking. */
  close(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Reloads every entry whose files changed since they were loaded; resolves when done. */
  async check(): Promise<void> {
    if (this.checking) return;
    this.checking = true;
    try {
      for (let i = 0; i < this.entries.length; i++) await this.checkOne(i);
    } finally {
      this.checking = false;
    }
  }

  private async checkOne(i: number): Promise<void> {
    const current = this.entries[i]!;
    const event = (type: CertificateEvent['type'], reason: string, stamp: string): CertificateEvent => ({ type, hosts: current.hosts, certFile: current.files.certFile, atMs: Date.now(), reason, stamp });
    let stamp: string;
    try {
      stamp = await stampCertificate(current.files);
    } catch (err) {
      const missing = `missing:${(err as Error).message}`;
      this.refuse(i, missing, event('certificate-rejected', `${(err as Error).message}; the current certificate stays in use`, missing));
      return;
    }
    if (stamp === current.stamp || this.refused.get(i) === stamp) return;
    let next: LoadedCertificate;
    try {
      next = await reloadCertificate(current);
    } catch (err) {
      if (!(err instanceof CertificateFileError)) throw err;
      this.refuse(i, stamp, event('certificate-rejected', `${err.message}; the current certificate stays in use`, stamp));
      return;
    }
    this.refused.delete(i);
    this.entries[i] = next;
    this.index();
    if (i === 0) this.options.onDefaultChanged(next);
    this.options.onEvent(event('certificate-reloaded', next.subject, next.stamp));
  }

  private refuse(i: number, stamp: string, e: CertificateEvent): void {
    if (this.refused.get(i) === stamp) return;
    this.refused.set(i, stamp);
    this.options.onEvent(e);
  }

  private index(): void {
    const exact = new Map<string, LoadedCertificate>();
    const wildcard = new Map<string, LoadedCertificate>();
    for (const e of this.entries) {
      for (const h of e.hosts) {
        if (h.startsWith('*.')) wildcard.set(h.slice(2), e);
        else exact.set(h, e);
      }
    }
    this.exact = exact;
    this.wildcard = wildcard;
  }
}
