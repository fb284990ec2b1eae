// The shop's single-page app. The page tells it which version it belongs to; from v2 on it shows
// the currency, which only the v2 API sends: a v2 page talking to a v1 API breaks right here.
const version = document.querySelector('meta[name="app-version"]').content;
const level = Number(/^v(\d+)/.exec(version)?.[1] ?? 1);

async function main() {
  const res = await fetch('/api/products');
  if (!res.ok) throw new Error(`GET /api/products: ${res.status}`);
  const { products } = await res.json();
  const list = document.getElementById('products');
  list.replaceChildren(...products.map((p) => {
    const li = document.createElement('li');
    const price = level >= 2 ? `${p.price.amount.toFixed(2)} ${p.price.currency.toUpperCase()}` : p.price.amount.toFixed(2);
    li.textContent = `${p.name}: ${price}`;
    return li;
  }));
  const api = await (await fetch('/api/version')).json();
  document.getElementById('versions').textContent = `page ${version}, api ${api.version}`;
}

main().catch((err) => {
  document.getElementById('error').textContent = `Something broke: ${err.message}`;
});
