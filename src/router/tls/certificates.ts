/**
 * Certificate files as the TLS listener uses them: read, checked (the key must be the
 * certificate's), and turned into a secure context. Checked at start so a typo in a path or a
 * key from another certificate is one clear error naming the file, the field and the reason,
 * never a handshake that fails later for every client.
 */
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { createSecureContext, type SecureContext } from 'node:tls';
import { formatPath, RouterError, type RouterIssue } from '../errors.js';
import type { CertificateFiles } from '../types.js';

/** One certificate entry, loaded. */
export interface LoadedCertificate {
  /** The host names and `*.` wildcards it serves, lower case. */
  hosts: string[];
  /** The files it came from. */
  files: CertificateFiles;
  /** The PEM texts, for the listener's default context. */
  cert: string;
  key: string;
  /** What the handshake uses. */
  context: SecureContext;
  /** The certificate's subject, for logs. */
  subject: string;
  /** Identity and modification of both files: a change means a reload. */
  stamp: string;
}

/** A certificate entry that cannot be used: which field, which file, why. */
export class CertificateFileError extends Error {
  override readonly name = 'CertificateFileError';
  /** Machine-readable kind. */
  readonly code = 'INVALID_CERTIFICATE';
  constructor(
    /** `certFile` or `keyFile`: the field at fault. */
    readonly field: 'certFile' | 'keyFile',
    /** The file at fault. */
    readonly file: string,
    /** Why, for people. */
    readonly reason: string,
  ) {
    super(`${field} ${file}: ${reason}`);
  }
}

const HOST = /^(\*\.)?([a-z0-9]([a-z0-9-]*[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/;

function why(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return 'no such file';
  if (code === 'EACCES') return 'permission denied';
  if (code === 'EISDIR') return 'is a directory';
  return (err as Error).message;
}

function stampOf(s: { ino: number; size: number; mtimeMs: number }): string {
  return `${s.ino}:${s.size}:${s.mtimeMs}`;
}

/** Builds a loaded certificate from the PEM texts; throws {@link CertificateFileError}. */
function build(files: CertificateFiles, hosts: string[], cert: string, key: string, stamp: string): LoadedCertificate {
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(cert);
  } catch (err) {
    throw new CertificateFileError('certFile', files.certFile, `not a PEM certificate (${(err as Error).message})`);
  }
  let privateKey;
  try {
    privateKey = createPrivateKey(key);
  } catch (err) {
    throw new CertificateFileError('keyFile', files.keyFile, `not a PEM private key without a passphrase (${(err as Error).message})`);
  }
  if (!x509.checkPrivateKey(privateKey)) {
    throw new CertificateFileError('keyFile', files.keyFile, `the key does not belong to the certificate in ${files.certFile} (${x509.subject.replace(/\n/g, ', ')})`);
  }
  let context: SecureContext;
  try {
    context = createSecureContext({ cert, key });
  } catch (err) {
    throw new CertificateFileError('certFile', files.certFile, (err as Error).message);
  }
  return { hosts, files, cert, key, context, subject: x509.subject.replace(/\n/g, ', '), stamp };
}

/** The current stamp of an entry's files; throws {@link CertificateFileError} when one is unreadable. */
export async function stampCertificate(files: CertificateFiles): Promise<string> {
  const parts: string[] = [];
  for (const field of ['certFile', 'keyFile'] as const) {
    try {
      parts.push(stampOf(await stat(files[field])));
    } catch (err) {
      throw new CertificateFileError(field, files[field], why(err));
    }
  }
  return parts.join('|');
}

/** Reads and checks an entry again (after its files changed); throws {@link CertificateFileError}. */
export async function reloadCertificate(previous: LoadedCertificate): Promise<LoadedCertificate> {
  const { files } = previous;
  const stamp = await stampCertificate(files);
  const texts: string[] = [];
  for (const field of ['certFile', 'keyFile'] as const) {
    try {
      texts.push(await readFile(files[field], 'utf8'));
    } catch (err) {
      throw new CertificateFileError(field, files[field], why(err));
    }
  }
  return build(files, previous.hosts, texts[0]!, texts[1]!, stamp);
}

/**
 * Reads and checks every entry at start. Throws `RouterError` `INVALID_OPTIONS` with one issue
 * per problem (path `tls.certificates[i].certFile`, and so on): an unreadable file, a key that
 * is not the certificate's, a malformed host, a host named by two entries.
 */
export function loadCertificates(entries: CertificateFiles[]): LoadedCertificate[] {
  const issues: RouterIssue[] = [];
  const out: LoadedCertificate[] = [];
  const owner = new Map<string, number>();
  if (entries.length === 0) issues.push({ path: ['tls', 'certificates'], message: 'must name at least one certificate' });
  entries.forEach((files, i) => {
    const hosts = files.hosts.map((h) => h.toLowerCase());
    if (hosts.length === 0) issues.push({ path: ['tls', 'certificates', i, 'hosts'], message: 'must name at least one host' });
    hosts.forEach((h, j) => {
      if (!HOST.test(h)) issues.push({ path: ['tls', 'certificates', i, 'hosts', j], message: `"${h}" is not a host name or a *. wildcard` });
      const first = owner.get(h);
      if (first !== undefined) issues.push({ path: ['tls', 'certificates', i, 'hosts', j], message: `host ${h} is already served by certificates[${first}]: a host has one certificate` });
      else owner.set(h, i);
    });
    try {
      const texts: string[] = [];
      const stamps: string[] = [];
      for (const field of ['certFile', 'keyFile'] as const) {
        try {
          stamps.push(stampOf(statSync(files[field])));
          texts.push(readFileSync(files[field], 'utf8'));
        } catch (err) {
          throw new CertificateFileError(field, files[field], why(err));
        }
      }
      out.push(build(files, hosts, texts[0]!, texts[1]!, stamps.join('|')));
    } catch (err) {
      if (!(err instanceof CertificateFileError)) throw err;
      issues.push({ path: ['tls', 'certificates', i, err.field], message: `${err.file}: ${err.reason}` });
    }
  });
  if (issues.length > 0) {
    const lines = issues.map((x) => `  ${formatPath(x.path)}: ${x.message}`);
    throw new RouterError('INVALID_OPTIONS', `the TLS certificates cannot be used:\n${lines.join('\n')}`, issues);
  }
  return out;
}
