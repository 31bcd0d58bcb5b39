// The dashboard's entry: picks the page for the URL, renders it into
// <main>, and shows whether live updates are connected. Adding a page is
// one module under pages/ and one route below.
import {h, clear} from './dom.js';
import * as overview from './pages/overview.js';
import * as queue from './pages/queue.js';
import * as job from './pages/job.js';

const routes = [
  {re: /^\/ui\/?$/, page: overview, nav: 'Overview'},
  {re: /^\/ui\/queues\/([^/]+)$/, page: queue},
  {re: /^\/ui\/jobs\/([^/]+)\/([^/]+)$/, page: job},
];

const nav = [{href: '/ui/', text: 'Overview'}];

function setLive(on) {
  const el = document.getElementById('live');
  if (el) el.classList.toggle('on', on);
}

async function main() {
  const navEl = document.getElementById('nav');
  for (const n of nav) navEl.append(h('a', {href: n.href}, n.text));
  const root = document.getElementById('main');
  const route = routes.find(r => r.re.test(location.pathname));
  clear(root);
  if (!route) {
    root.append(h('p', {class: 'error'}, 'No such page: ' + location.pathname));
    return;
  }
  const params = route.re.exec(location.pathname).slice(1).map(decodeURIComponent);
  const ctrl = new AbortController();
  window.addEventListener('pagehide', () => ctrl.abort());
  const ctx = {signal: ctrl.signal, setLive, namespace: document.body.dataset.namespace || ''};
  try {
    await route.page.render(root, params, ctx);
  } catch (e) {
    if (ctrl.signal.aborted) return;
    root.append(h('p', {class: 'error'}, String(e.message || e)));
  }
}

main();
