// The shop's frontend: a single-page app whose assets have content-hashed names. Each version
// has its own hashes and serves only its own assets, as a real build output would: a page of
// one version asking an instance of another for its assets gets a 404 (a "skew" error).
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { featureLevel, readConfig, serve } from '../shared/server-kit.js';

const config = readConfig();
const here = new URL('.', import.meta.url);
const level = featureLevel(config.version);

/** A hash of the version and the content, so v1 and v2 never share an asset name. */
const hashed = (content) => createHash('sha256').update(`${config.version}\n`).update(content).digest('hex').slice(0, 10);

const js = readFileSync(new URL('app.js', here));
const css = readFileSync(new URL('app.css', here));
const assets = new Map([
  [`/assets/app.${hashed(js)}.js`, { body: js, type: 'text/javascript; charset=utf-8' }],
  [`/assets/app.${hashed(css)}.css`, { body: css, type: 'text/css; charset=utf-8' }],
]);
const [jsPath, cssPath] = [...assets.keys()];

// The API fields this page needs, so a client (or a test) can tell when the API it reached
// cannot serve it. Grows with the version, as the API does.
const apiRequires = level >= 2 ? ['price.currency'] : [];

const html = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="app-version" content="${config.version}">
<meta name="api-requires" content="${apiRequires.join(',')}">
<title>Shop ${config.version}</title>
<link rel="stylesheet" href="${cssPath}">
<script type="module" src="${jsPath}"></script>
</head>
<body>
<h1>Shop</h1>
<ul id="products"></ul>
<p id="versions"></p>
<p id="error"></p>
</body>
</html>
`;

serve({
  service: 'web',
  config,
  handle(req, res, url) {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' });
      res.end('method not allowed\n');
      return;
    }
    if (url.pathname.startsWith('/assets/')) {
      const asset = assets.get(url.pathname);
      if (!asset) {
        // Not cacheable: the asset may well exist on the next instance the client reaches.
        res.writeHead(404, { 'content-type': 'text/plain', 'cache-control': 'no-store' });
        res.end(`no asset ${url.pathname} in web@${config.version}\n`);
        return;
      }
      res.writeHead(200, {
        'content-type': asset.type,
        'content-length': asset.body.length,
        // The name changes whenever the content does, so the browser may keep it forever.
        'cache-control': 'public, max-age=31536000, immutable',
      });
      res.end(req.method === 'HEAD' ? undefined : asset.body);
      return;
    }
    // Every other path is the single-page app (client-side routes included). The page itself
    // must be revalidated every time: it is what names the current assets.
    const headers = { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-cache', 'content-length': Buffer.byteLength(html) };
    if (!/(?:^|;\s*)shop_session=/.test(req.headers.cookie ?? '')) {
      headers['set-cookie'] = `shop_session=${randomBytes(8).toString('hex')}; Path=/; Max-Age=86400; HttpOnly; SameSite=Lax`;
    }
    res.writeHead(200, headers);
    res.end(req.method === 'HEAD' ? undefined : html);
  },
});
