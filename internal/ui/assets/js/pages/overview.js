// Overview: GPUs busy and allocated over time, jobs by phase, queue usage
// with the borrowed share, recent jobs. Jobs update live through a watch;
// GPU telemetry is polled.
import {h, clear, card, table, badge, pageLink, ago, quantity} from '../dom.js';
import {list, watch, gpus} from '../api.js';
import {lineChart, legend, usageBar, timeFormat} from '../charts.js';

const PHASES = ['Pending', 'Admitted', 'Running', 'Succeeded', 'Failed', 'Suspended'];

function gpuCard(rep) {
  const body = [];
  const total = rep.gpus.length;
  const alloc = rep.gpus.filter(g => g.allocated).length;
  body.push(h('p', {class: 'big', id: 'gpu-summary'}, `${alloc} of ${total} GPUs allocated, ${total - alloc} free`));
  if (rep.message) body.push(h('p', {class: 'muted', id: 'gpu-message'}, rep.message));
  const hist = rep.history || [];
  const series = [
    {name: 'allocated', points: hist.map(p => ({x: Date.parse(p.time), y: p.allocated}))},
    {name: 'free', points: hist.map(p => ({x: Date.parse(p.time), y: p.total - p.allocated}))},
  ];
  if (rep.detected) series.push({name: 'busy (>5% utilization)', points: hist.map(p => ({x: Date.parse(p.time), y: p.busy}))});
  body.push(lineChart(series, {title: 'GPUs over time', yMin: 0, yMax: Math.max(1, ...hist.map(p => p.total)), xFormat: timeFormat, area: true}));
  body.push(legend(series));
  if (total) {
    const pct = v => v === null || v === undefined ? '–' : Math.round(v * 100) + '%';
    const gib = v => v === null || v === undefined ? '–' : (v / 2 ** 30).toFixed(1);
    body.push(table(['GPU', 'model', 'util', 'memory GiB', 'power W', 'temp °C', 'replica'], rep.gpus.map(g => h('tr', {},
      h('td', {}, String(g.index)), h('td', {}, g.model || ''), h('td', {}, pct(g.utilization)),
      h('td', {}, g.memoryUsedBytes == null ? '–' : `${gib(g.memoryUsedBytes)} / ${gib(g.memoryTotalBytes)}`),
      h('td', {}, g.powerWatts == null ? '–' : g.powerWatts.toFixed(0)),
      h('td', {}, g.temperatureCelsius == null ? '–' : String(g.temperatureCelsius)),
      h('td', {}, g.job ? pageLink(g.replica, 'jobs', g.namespace, g.job) : (g.allocated ? 'allocated' : 'free'))))));
  }
  return card('GPUs', ...body);
}

function phaseCard(jobs) {
  const counts = Object.fromEntries(PHASES.map(p => [p, 0]));
  for (const j of jobs.values()) counts[(j.status && j.status.phase) || 'Pending']++;
  const max = Math.max(1, ...Object.values(counts));
  return card('Jobs by phase', h('div', {class: 'phases', id: 'phases'}, PHASES.map(p =>
    h('div', {class: 'phase-row'}, badge(p),
      h('span', {class: 'phase-bar'}, h('meter', {min: 0, max, value: counts[p]})),
      h('span', {class: 'count', 'data-phase': p}, String(counts[p]))))));
}

function queueCard(queues) {
  const rows = [];
  for (const q of queues) {
    const nominal = {}, used = {}, borrowed = {};
    for (const f of (q.spec.flavors || [])) for (const r of f.resources || []) if (r.name === 'gpu') nominal[f.name] = quantity(r.nominalQuota);
    for (const u of (q.status && q.status.usage) || []) {
      used[u.name] = quantity((u.resources || {}).gpu);
      borrowed[u.name] = quantity((u.borrowed || {}).gpu);
    }
    for (const f of Object.keys(nominal)) {
      rows.push(h('tr', {},
        h('td', {}, pageLink(q.metadata.name, 'queues', q.metadata.name)),
        h('td', {}, f),
        h('td', {}, usageBar(used[f] || 0, nominal[f], borrowed[f] || 0)),
        h('td', {}, `${used[f] || 0} / ${nominal[f]}` + (borrowed[f] ? ` (${borrowed[f]} borrowed)` : '')),
        h('td', {}, String((q.status && q.status.pendingJobs) || 0)),
        h('td', {}, String((q.status && q.status.admittedJobs) || 0))));
    }
  }
  return card('Queue GPU usage', table(['queue', 'flavor', 'usage', 'GPUs', 'pending', 'admitted'], rows, {id: 'queues'}),
    h('p', {class: 'muted'}, h('i', {class: 'swatch own'}), 'own quota ', h('i', {class: 'swatch borrowed'}), 'borrowed from the cohort ',
      h('i', {class: 'swatch quota'}), 'nominal quota'));
}

function jobsCard(jobs) {
  const sorted = [...jobs.values()].sort((a, b) => String(b.metadata.creationTimestamp).localeCompare(String(a.metadata.creationTimestamp))).slice(0, 25);
  return card('Recent jobs', table(['job', 'namespace', 'queue', 'phase', 'age'], sorted.map(j => h('tr', {'data-job': j.metadata.name},
    h('td', {}, pageLink(j.metadata.name, 'jobs', j.metadata.namespace, j.metadata.name)),
    h('td', {}, j.metadata.namespace), h('td', {}, j.spec.queue || ''), h('td', {}, badge(j.status && j.status.phase)),
    h('td', {}, ago(j.metadata.creationTimestamp)))), {id: 'jobs'}));
}

export async function render(root, _params, ctx) {
  const grid = h('div', {class: 'grid'});
  const slots = {gpu: h('div'), phases: h('div'), queues: h('div', {class: 'wide'}), jobs: h('div', {class: 'wide'})};
  grid.append(slots.gpu, slots.phases, slots.queues, slots.jobs);
  root.append(h('h1', {}, 'Overview'), grid);

  const jobs = new Map();
  const key = j => j.metadata.namespace + '/' + j.metadata.name;
  const [jl, ql, rep] = await Promise.all([list('jobs', '', '', ctx.signal), list('queues', '', '', ctx.signal), gpus(ctx.signal)]);
  for (const j of jl.items) jobs.set(key(j), j);
  let queues = ql.items;
  const draw = () => {
    clear(slots.phases).append(phaseCard(jobs));
    clear(slots.jobs).append(jobsCard(jobs));
  };
  clear(slots.gpu).append(gpuCard(rep));
  clear(slots.queues).append(queueCard(queues));
  draw();

  let pending = false;
  watch('jobs', '', jl.resourceVersion, '', ev => {
    if (ev.type === 'DELETED') jobs.delete(key(ev.object)); else jobs.set(key(ev.object), ev.object);
    if (!pending) { pending = true; requestAnimationFrame(() => { pending = false; draw(); }); }
  }, ctx.signal, ctx.setLive);
  const poll = setInterval(async () => {
    try {
      const [r, q] = await Promise.all([gpus(ctx.signal), list('queues', '', '', ctx.signal)]);
      clear(slots.gpu).append(gpuCard(r));
      queues = q.items;
      clear(slots.queues).append(queueCard(queues));
    } catch (e) { /* the next poll retries */ }
  }, 5000);
  ctx.signal.addEventListener('abort', () => clearInterval(poll));
}
