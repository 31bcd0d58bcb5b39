// Queue page: the queue's quota and usage, its pending jobs in the order
// the scheduler will consider them, each with the reason it waits, and the
// jobs holding its resources. Updates live.
import {h, clear, card, table, badge, pageLink, ago, quantity} from '../dom.js';
import {list, getJSON, path, watch} from '../api.js';
import {usageBar} from '../charts.js';

// position reads "position N in queue" from a waiting reason.
export function position(j) {
  const c = ((j.status && j.status.conditions) || []).find(c => c.type === 'Admitted');
  const m = c && /position (\d+) in queue/.exec(c.message || '');
  return m ? Number(m[1]) : Infinity;
}

function reason(j) {
  const c = ((j.status && j.status.conditions) || []).find(c => c.type === 'Admitted');
  return (c && c.message) || 'not yet considered by the scheduler';
}

// pendingOrder is the scheduler's order: its reported position, else
// priority then arrival.
export function pendingOrder(a, b) {
  return position(a) - position(b) ||
    ((b.spec.priority || 0) - (a.spec.priority || 0)) ||
    String(a.metadata.creationTimestamp).localeCompare(String(b.metadata.creationTimestamp));
}

function quotaRows(q) {
  const rows = [];
  const usage = Object.fromEntries(((q.status && q.status.usage) || []).map(u => [u.name, u]));
  for (const f of q.spec.flavors || []) {
    for (const r of f.resources || []) {
      const u = usage[f.name] || {};
      const used = (u.resources || {})[r.name] || '0';
      const borrowed = (u.borrowed || {})[r.name] || '0';
      rows.push(h('tr', {}, h('td', {}, f.name), h('td', {}, r.name), h('td', {}, String(r.nominalQuota)),
        h('td', {}, String(used)), h('td', {}, String(borrowed)),
        h('td', {}, usageBar(quantity(used), quantity(r.nominalQuota), quantity(borrowed)))));
    }
  }
  return rows;
}

export async function render(root, [name], ctx) {
  const q = await getJSON(path('queues', '', name), ctx.signal);
  const head = h('div');
  const pendingSlot = h('div'), admittedSlot = h('div');
  root.append(h('h1', {}, 'Queue ', h('span', {id: 'queue-name'}, q.metadata.name)), head, pendingSlot, admittedSlot);
  head.append(card('Quota and usage',
    h('p', {class: 'muted'}, `cohort: ${q.spec.cohort || 'none'} · ${q.spec.queueingStrategy || 'BestEffortFIFO'}`),
    table(['flavor', 'resource', 'nominal', 'used', 'borrowed', ''], quotaRows(q))));

  const jobs = new Map();
  const key = j => j.metadata.namespace + '/' + j.metadata.name;
  const jl = await list('jobs', '', '', ctx.signal);
  for (const j of jl.items) jobs.set(key(j), j);
  const draw = () => {
    const mine = [...jobs.values()].filter(j => j.spec.queue === name || (j.status && j.status.admission && j.status.admission.queue === name));
    const pending = mine.filter(j => !j.status || !j.status.phase || j.status.phase === 'Pending').sort(pendingOrder);
    const holding = mine.filter(j => j.status && (j.status.phase === 'Admitted' || j.status.phase === 'Running'));
    clear(pendingSlot).append(card(`Pending (${pending.length})`, table(['#', 'job', 'namespace', 'priority', 'age', 'waiting for'],
      pending.map((j, i) => h('tr', {'data-job': j.metadata.name},
        h('td', {}, String(i + 1)), h('td', {}, pageLink(j.metadata.name, 'jobs', j.metadata.namespace, j.metadata.name)),
        h('td', {}, j.metadata.namespace), h('td', {}, String(j.spec.priority || 0)), h('td', {}, ago(j.metadata.creationTimestamp)),
        h('td', {class: 'reason'}, reason(j)))), {id: 'pending'})));
    clear(admittedSlot).append(card(`Holding resources (${holding.length})`, table(['job', 'namespace', 'phase', 'flavor', 'since'],
      holding.map(j => h('tr', {'data-job': j.metadata.name},
        h('td', {}, pageLink(j.metadata.name, 'jobs', j.metadata.namespace, j.metadata.name)), h('td', {}, j.metadata.namespace),
        h('td', {}, badge(j.status.phase)), h('td', {}, j.status.admission.flavor || ''),
        h('td', {}, ago(j.status.startTime || j.metadata.creationTimestamp)))), {id: 'admitted'})));
  };
  draw();
  watch('jobs', '', jl.resourceVersion, '', ev => {
    if (ev.type === 'DELETED') jobs.delete(key(ev.object)); else jobs.set(key(ev.object), ev.object);
    draw();
  }, ctx.signal, ctx.setLive);
}
