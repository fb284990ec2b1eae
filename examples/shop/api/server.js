// The shop's backend API. v2 adds `price.currency` to each product; the v2 frontend needs it.
import { featureLevel, readConfig, serve } from '../shared/server-kit.js';

const config = readConfig();
const level = featureLevel(config.version);

const catalogue = [
  { id: 1, name: 'Espresso cup', amount: 9.5 },
  { id: 2, name: 'Pour-over kettle', amount: 42 },
  { id: 3, name: 'Burr grinder', amount: 129 },
  { id: 4, name: 'Beans, 1 kg', amount: 24.9 },
];

const products = catalogue.map(({ id, name, amount }) => ({
  id,
  name,
  price: level >= 2 ? { amount, currency: 'eur' } : { amount },
}));

const sendJson = (res, status, body) => {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(text) });
  res.end(text);
};

const cookie = (header, name) => {
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return null;
};

serve({
  service: 'api',
  config,
  handle(req, res, url) {
    // Mounted at /api; answers without the prefix too, for a router that strips it.
    const path = url.pathname.startsWith('/api/') ? url.pathname.slice(4) : url.pathname;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      sendJson(res, 405, { error: `${req.method} not allowed` });
    } else if (path === '/products') {
      sendJson(res, 200, { products });
    } else if (path === '/version') {
      sendJson(res, 200, { service: 'api', version: config.version, featureLevel: level });
    } else if (path === '/cart') {
      sendJson(res, 200, { session: cookie(req.headers.cookie, 'shop_session'), items: [] });
    } else {
      sendJson(res, 404, { error: `no route ${url.pathname}` });
    }
  },
});
