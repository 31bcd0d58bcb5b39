// The dashboard's entry: picks the page for the URL, renders it into
// <main>, and shows whether live updates are connected. Adding a page is
// one module under pages/ and one route below.
import {h, clear} from './dom.js';
import * as overview from './pages/overview.js';
import * as queue from './pages/queue.js';
import * as job from './pages/job.js';
import * as experiment from './pages/experiment.js';
import * as service from './pages/service.js';
import * as requests from './pages/requests.js';

const routes = [
  {re: /^\/ui\/?$/, page: overview, nav: 'Overview'},
  {re: /^\/ui\/queues\/([^/]+)$/, page: queue},
  {re: /^\/ui\/jobs\/([^/]+)\/([^/]+)$/, page: job},
  {re: /^\/ui\/experiments\/?$/, page: experiment},
  {re: /^\/ui\/experiments\/([^/]+)\/([^/]+)$/, page: experiment},
  {re: /^\/ui\/services\/?$/, page: service},
  {re: /^\/ui\/services\/([^/]+)\/([^/]+)$/, page: service},
  {re: /^\/ui\/requests\/?$/, page: requests},
];

const nav = [
  {href: '/ui/', text: 'Overview'},
  {href: '/ui/experiments', text: 'Experiments'},
  {href: '/ui/services', text: 'Services'},
  {href: '/ui/requests', text: 'Request log'},
];

function setLive(on) {
  const el = document.getElementById('live');
  if (el) el.classList.toggle('on', on);
}

async function main() {
  const navEl = document.getElementById('nav');
  for (const n of nav) {
    const here = n.href === '/ui/' ? /^\/ui\/?$/.test(location.pathname) : location.pathname.startsWith(n.href);
    navEl.append(h('a', {href: n.href, class: here ? 'here' : null}, n.text));
  }
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
