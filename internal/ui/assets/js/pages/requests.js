// Request log page: what the gateway recorded for every request (time,
// namespace, key, model, tokens, latency, status, and the prompt for
// services that log prompts), filtered by namespace, model and service,
// with usage summed per namespace and model: what `skiff requests` shows.
// The filters live in the URL (?namespace=&model=&service=), so a
// filtered view can be linked; the page refreshes every few seconds.
import {h, clear, card, table, seconds} from '../dom.js';
import {requests, requestSummary} from '../api.js';
import {requestRows, requestHeaders} from './service.js';

const LIMIT = 200;

function summaryCard(items) {
  const rows = items.map(s => h('tr', {'data-usage': `${s.namespace}/${s.model}`},
    h('td', {}, s.namespace || '–'), h('td', {}, s.model || '–'), h('td', {class: 'num'}, String(s.requests)), h('td', {class: 'num'}, String(s.errors)),
    h('td', {class: 'num'}, String(s.promptTokens)), h('td', {class: 'num'}, String(s.completionTokens)),
    h('td', {class: 'num'}, String(s.totalTokens)), h('td', {class: 'num'}, seconds(s.meanLatencySeconds)),
    h('td', {class: 'num'}, s.meanTTFTSeconds ? seconds(s.meanTTFTSeconds) : '–')));
  return card('Usage per namespace and model', table(['namespace', 'model', 'requests', 'errors', 'tokens in', 'tokens out', 'total tokens',
    'mean latency', 'mean TTFT'], rows, {id: 'usage'}));
}

export async function render(root, _params, ctx) {
  const url = new URL(location.href);
  const input = (id, label, value, placeholder) => h('label', {}, label + ' ',
    h('input', {id, name: id, value, placeholder, autocomplete: 'off', list: id + '-choices'}), h('datalist', {id: id + '-choices'}));
  const form = h('form', {class: 'filters', id: 'filters'},
    input('namespace', 'namespace', url.searchParams.get('namespace') || '', ctx.namespace || 'all'),
    input('model', 'model', url.searchParams.get('model') || '', 'all'),
    input('service', 'service', url.searchParams.get('service') || '', 'all'),
    h('button', {type: 'submit'}, 'Filter'));
  const usageSlot = h('div'), logSlot = h('div');
  root.append(h('h1', {}, 'Request log'), form, usageSlot, logSlot);

  const filters = () => ({namespace: form.elements.namespace.value.trim(), model: form.elements.model.value.trim(),
    service: form.elements.service.value.trim()});
  let busy = false;
  const refresh = async () => {
    if (busy) return;
    busy = true;
    const f = filters();
    try {
      const [sum, items] = await Promise.all([requestSummary(f, ctx.signal), requests({...f, limit: String(LIMIT)}, ctx.signal)]);
      clear(usageSlot).append(summaryCard(sum));
      clear(logSlot).append(card(`Requests (newest ${items.length}${items.length === LIMIT ? ', more in skiff requests' : ''})`,
        table(requestHeaders(true), requestRows(items, true), {id: 'requests'})));
      // Offer what the summary knows as choices.
      for (const [id, key] of [['namespace', 'namespace'], ['model', 'model']]) {
        const dl = document.getElementById(id + '-choices');
        clear(dl).append(...[...new Set(sum.map(s => s[key]))].sort().map(v => h('option', {value: v})));
      }
      ctx.setLive(true);
    } catch (e) {
      if (ctx.signal.aborted) return;
      ctx.setLive(false);
      clear(logSlot).append(h('p', {class: 'error', id: 'requests-error'}, String(e.message || e)));
    } finally { busy = false; }
  };
  form.addEventListener('submit', ev => {
    ev.preventDefault();
    const f = filters();
    const u = new URL(location.href);
    for (const k of ['namespace', 'model', 'service']) { if (f[k]) u.searchParams.set(k, f[k]); else u.searchParams.delete(k); }
    history.replaceState(null, '', u);
    refresh();
  });
  await refresh();
  const poll = setInterval(refresh, 3000);
  ctx.signal.addEventListener('abort', () => clearInterval(poll));
}
