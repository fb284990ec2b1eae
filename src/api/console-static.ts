/**
 * The console's files, served from dist/console: hashed assets cached for a year, index.html
 * revalidated every time, and index.html for any other path (the console's own routes, such as
 * /services/web). Each file is compressed once (gzip, and brotli when asked) and kept in memory
 * until it changes on disk; ETags let a browser revalidate for nothing. Only files under the
 * directory are served.
 */
import { createHash } from 'node:crypto';
import { readFile, realpath, stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join, resolve, sep } from 'node:path';
import { brotliCompressSync, constants as zlib, gzipSync } from 'node:zlib';
import { packageRoot } from '../lib/package-root.js';

/** Media types by extension; anything else is served as bytes. */
const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
};
/** Already compressed: compressing again would cost time for nothing. */
const COMPRESSED = new Set(['.png', '.woff2', '.ico']);
const IMMUTABLE = 'public, max-age=31536000, immutable';

/** The console's files as they were built: `<package root>/dist/console`. */
export function defaultConsoleDir(): string {
  return join(packageRoot(import.meta.url), 'dist', 'console');
}

/** A file as served: its bytes in each encoding, made once. */
interface CachedFile {
  mtimeMs: number;
  size: number;
  type: string;
  etag: string;
  identity: Buffer;
  gzip?: Buffer;
  br?: Buffer;
}

type Encoding = 'br' | 'gzip' | 'identity';

/** What a request for a console path was answered with (for the server's own bookkeeping). */
export type StaticOutcome = 'served' | 'not-modified' | 'not-found' | 'refused' | 'not-built';

/** Serves the console's files from one directory. */
export class ConsoleFiles {
  private readonly cache = new Map<string, CachedFile>();
  private root: string | undefined;

  constructor(private readonly dir: string = defaultConsoleDir()) {}

  /** Answers a GET or HEAD of a path that is not the API's. */
  async serve(req: IncomingMessage, res: ServerResponse, pathname: string): Promise<StaticOutcome> {
    let decoded: string;
    try {
      decoded = decodeURIComponent(pathname);
    } catch {
      return refuse(res, 'the path is not valid percent-encoding');
    }
    const root = await this.rootDir();
    if (root === undefined) return notBuilt(res);
    const file = resolve(root, `.${decoded}`);
    // Encoded slashes or dots that survived the URL's own normalization must not climb out.
    if (decoded.includes('\0') || (file !== root && !file.startsWith(root + sep))) return refuse(res, 'the path leads outside the console\'s files');
    const found = await this.load(file);
    if (found) return this.send(req, res, found, decoded.startsWith('/assets/') ? IMMUTABLE : 'no-cache');
    // A missing hashed asset is a 404: HTML in its place would fail as a script with a puzzling error.
    if (decoded.startsWith('/assets/')) {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
      res.end('no such file: the console was rebuilt; reload the page\n');
      return 'not-found';
    }
    const index = await this.load(join(root, 'index.html'));
    if (!index) return notBuilt(res);
    return this.send(req, res, index, 'no-cache');
  }

  private async rootDir(): Promise<string | undefined> {
    if (this.root !== undefined) return this.root;
    try {
      this.root = await realpath(this.dir);
    } catch {
      // Not built yet: asked again next time, so a build while the daemon runs is picked up.
      return undefined;
    }
    return this.root;
  }

  /** The file's cached form, read again when it changed on disk; undefined when it is not a file. */
  private async load(file: string): Promise<CachedFile | undefined> {
    let info;
    try {
      info = await stat(file);
    } catch {
      return undefined;
    }
    if (!info.isFile()) return undefined;
    const cached = this.cache.get(file);
    if (cached && cached.mtimeMs === info.mtimeMs && cached.size === info.size) return cached;
    const identity = await readFile(file);
    const ext = extname(file).toLowerCase();
    const entry: CachedFile = {
      mtimeMs: info.mtimeMs,
      size: info.size,
      type: CONTENT_TYPES[ext] ?? 'application/octet-stream',
      etag: createHash('sha256').update(identity).digest('base64url').slice(0, 27),
      identity,
    };
    if (!COMPRESSED.has(ext) && identity.length > 256) entry.gzip = gzipSync(identity, { level: 9 });
    this.cache.set(file, entry);
    return entry;
  }

  private send(req: IncomingMessage, res: ServerResponse, file: CachedFile, cacheControl: string): StaticOutcome {
    const encoding = chooseEncoding(String(req.headers['accept-encoding'] ?? ''), file);
    // Brotli at its best is slow: made only when a browser first asks for it, then kept.
    if (encoding === 'br') file.br ??= brotliCompressSync(file.identity, { params: { [zlib.BROTLI_PARAM_QUALITY]: 11, [zlib.BROTLI_PARAM_SIZE_HINT]: file.identity.length } });
    const etag = `"${file.etag}${encoding === 'identity' ? '' : `-${encoding}`}"`;
    const headers: Record<string, string | number> = { 'cache-control': cacheControl, etag, vary: 'Accept-Encoding' };
    if (matches(req.headers['if-none-match'], etag)) {
      res.writeHead(304, headers);
      res.end();
      return 'not-modified';
    }
    const body = encoding === 'identity' ? file.identity : file[encoding]!;
    res.writeHead(200, { ...headers, 'content-type': file.type, 'content-length': body.length, ...(encoding === 'identity' ? {} : { 'content-encoding': encoding }) });
    res.end(body);
    return 'served';
  }
}

/** The best encoding the client accepts (q=0 refuses one) that this file has. */
function chooseEncoding(accept: string, file: CachedFile): Encoding {
  const accepted = new Set<string>();
  for (const part of accept.split(',')) {
    const [name, ...params] = part.trim().toLowerCase().split(';');
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    if (name && (q === undefined || Number(q.slice(2)) > 0)) accepted.add(name);
  }
  if (!file.gzip) return 'identity';
  if (accepted.has('br')) return 'br';
  if (accepted.has('gzip')) return 'gzip';
  return 'identity';
}

function matches(ifNoneMatch: string | undefined, etag: string): boolean {
  if (ifNoneMatch === undefined) return false;
  return ifNoneMatch.split(',').some((t) => t.trim() === '*' || t.trim().replace(/^W\//, '') === etag);
}

function refuse(res: ServerResponse, why: string): StaticOutcome {
  res.writeHead(400, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
  res.end(`${why}\n`);
  return 'refused';
}

function notBuilt(res: ServerResponse): StaticOutcome {
  res.writeHead(503, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
  res.end('<!doctype html><html lang="en"><head><meta charset="utf-8"><title>graylane console</title></head>'
    + '<body><h1>The console is not built</h1><p>Run <code>npm run build</code> in graylane\'s directory, then reload this page. '
    + 'The API answers meanwhile; <code>graylane status</code> shows the same rollouts.</p></body></html>\n');
  return 'not-built';
}
