// Job page: status, replicas and their placement, events, live logs of a
// replica, and the job's metric charts. The job and its events update
// live.
import {h, clear, card, table, badge, ago} from '../dom.js';
import {list, getJSON, path, watch, followLog, APIError} from '../api.js';
import {metricChart} from '../charts.js';

// fetchMetrics reads the job's metric points ({name, step, value, time}),
// of every metric or only the one named; an empty list when the server
// keeps none for the job.
export async function fetchMetrics(ns, name, signal, metric = '') {
  try {
    const r = await getJSON(path('jobs', ns, name, 'metrics') + (metric ? '?name=' + encodeURIComponent(metric) : ''), signal);
    return Array.isArray(r) ? r : (r.items || r.points || []);
  } catch (e) {
    if (e instanceof APIError && (e.status === 404 || e.status === 400)) return [];
    throw e;
  }
}

function replicaNames(job) {
  const out = [];
  for (const g of job.spec.replicaGroups || []) for (let i = 0; i < (g.replicas || 1); i++) out.push(`${g.name}-${i}`);
  return out;
}

function statusCard(job) {
  const st = job.status || {};
  const cond = (st.conditions || []).map(c => h('tr', {}, h('td', {}, c.type), h('td', {}, c.status), h('td', {}, c.reason || ''),
    h('td', {class: 'reason'}, c.message || '')));
  return card('Status',
    h('p', {}, badge(st.phase), ` queue ${job.spec.queue || ''} · attempt ${st.attempt || 0} · restarts ${st.restarts || 0}` +
      (st.admission ? ` · flavor ${st.admission.flavor || ''}` : '')),
    table(['condition', 'status', 'reason', 'message'], cond, {id: 'conditions'}));
}

function replicasCard(job) {
  const st = job.status || {};
  const place = {};
  for (const p of (st.admission && st.admission.placements) || []) place[`${p.group}-${p.index}`] = p;
  const rows = (st.replicas || []).map(r => {
    const p = place[`${r.group}-${r.index}`] || {};
    return h('tr', {},
      h('td', {}, r.name), h('td', {}, badge(r.state)), h('td', {}, r.exitCode === undefined ? '' : String(r.exitCode)),
      h('td', {}, p.node || ''), h('td', {}, (p.gpus || []).join(',')), h('td', {}, ago(r.startedAt)), h('td', {}, r.reason || ''));
  });
  return card('Replicas', table(['replica', 'state', 'exit', 'node', 'GPUs', 'started', 'reason'], rows, {id: 'replicas'}));
}

function eventsCard(events) {
  const sorted = [...events].sort((a, b) => String(a.lastTimestamp).localeCompare(String(b.lastTimestamp)));
  return card('Events', table(['age', 'type', 'reason', 'message'], sorted.map(e => h('tr', {},
    h('td', {}, ago(e.lastTimestamp)), h('td', {}, e.type || ''), h('td', {}, e.reason || ''), h('td', {class: 'reason'}, e.message || ''))),
  {id: 'events'}));
}

export async function render(root, [ns, name], ctx) {
  let job = await getJSON(path('jobs', ns, name), ctx.signal);
  const slots = {status: h('div'), replicas: h('div'), metrics: h('div', {class: 'wide'}), events: h('div', {class: 'wide'}), logs: h('div', {class: 'wide'})};
  root.append(h('h1', {}, 'Job ', h('span', {id: 'job-name'}, `${ns}/${name}`)),
    h('div', {class: 'grid'}, slots.status, slots.replicas, slots.metrics, slots.events, slots.logs));
  const draw = () => {
    clear(slots.status).append(statusCard(job));
    clear(slots.replicas).append(replicasCard(job));
  };
  draw();

  const fs = `fieldSelector=${encodeURIComponent(`involvedObject.kind=Job,involvedObject.name=${name}`)}`;
  const el = await list('events', ns, fs, ctx.signal);
  const events = el.items;
  clear(slots.events).append(eventsCard(events));

  // Metrics: redrawn every 2 s while the job runs, once more when it ends.
  const finished = () => ['Succeeded', 'Failed'].includes((job.status || {}).phase);
  // A draw asked for while a fetch is still out runs once that one is
  // done, so answers cannot pile up or land out of order, and the last
  // draw (when the job ends) is never lost.
  let fetching = false, again = false;
  const drawMetrics = async () => {
    if (fetching) { again = true; return; }
    fetching = true;
    try {
      const pts = await fetchMetrics(ns, name, ctx.signal);
      clear(slots.metrics).append(card('Metrics', metricChart(pts, {title: `metrics of ${name}`})));
    } catch (e) {
      if (!ctx.signal.aborted) clear(slots.metrics).append(card('Metrics', h('p', {class: 'error'}, `metrics unavailable: ${e.message}`)));
    } finally {
      fetching = false;
      if (again && !ctx.signal.aborted) { again = false; drawMetrics(); }
    }
  };
  drawMetrics();
  let metricsTick = finished() ? null : setInterval(drawMetrics, 2000);
  const stopMetrics = () => { if (metricsTick) clearInterval(metricsTick); metricsTick = null; };
  ctx.signal.addEventListener('abort', stopMetrics);

  // Logs: one replica at a time, followed live.
  const pre = h('pre', {class: 'logs', id: 'logs'});
  const select = h('select', {id: 'replica'}, replicaNames(job).map(r => h('option', {value: r}, r)));
  clear(slots.logs).append(card('Logs', h('label', {}, 'replica ', select), pre));
  let logCtrl = null;
  const follow = () => {
    if (logCtrl) logCtrl.abort();
    logCtrl = new AbortController();
    ctx.signal.addEventListener('abort', () => logCtrl.abort());
    clear(pre);
    const sig = logCtrl.signal;
    followLog(ns, name, select.value, text => {
      const atEnd = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
      pre.append(document.createTextNode(text));
      if (atEnd) pre.scrollTop = pre.scrollHeight;
    }, sig).catch(e => {
      if (!sig.aborted) pre.append(h('span', {class: 'muted'}, `\n[log unavailable: ${e.message}]`));
    });
  };
  select.addEventListener('change', follow);
  follow();

  const jf = `fieldSelector=${encodeURIComponent('metadata.name=' + name)}`;
  watch('jobs', ns, job.metadata.resourceVersion, jf, ev => {
    if (ev.object.metadata.name !== name) return;
    if (ev.type === 'DELETED') { stopMetrics(); slots.status.prepend(h('p', {class: 'error'}, 'This job was deleted.')); return; }
    const restarted = (ev.object.status || {}).attempt !== (job.status || {}).attempt;
    job = ev.object;
    draw();
    if (restarted) follow();
    if (finished()) { stopMetrics(); drawMetrics(); } else if (!metricsTick) metricsTick = setInterval(drawMetrics, 2000);
  }, ctx.signal, ctx.setLive);
  watch('events', ns, el.resourceVersion, fs, ev => {
    if (ev.type !== 'DELETED') events.push(ev.object);
    clear(slots.events).append(eventsCard(events));
  }, ctx.signal);
}
