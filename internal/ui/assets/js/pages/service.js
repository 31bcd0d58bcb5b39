// Service pages: the list of InferenceServices, and one service with its
// replicas over time, request rate, end-to-end latency and time to first
// token (p50, p99), tokens in and out, its replicas, recent requests and
// events. The charts come from the request log's series API (what the
// gateway recorded) and the service's scale events; the service itself
// updates live through the watch API, the series every few seconds.
import {h, clear, card, table, badge, pageLink, ago, seconds} from '../dom.js';
import {list, getJSON, path, watch, requests, requestSeries} from '../api.js';
import {lineChart, legend, timeFormat} from '../charts.js';

const WINDOWS = [
  {label: 'last minute', ms: 60e3, step: '2s'},
  {label: 'last 5 minutes', ms: 5 * 60e3, step: '5s'},
  {label: 'last 15 minutes', ms: 15 * 60e3, step: '10s'},
  {label: 'last hour', ms: 60 * 60e3, step: '30s'},
  {label: 'last 6 hours', ms: 6 * 3600e3, step: '5m'},
];

function ready(svc) {
  return ((svc.status && svc.status.conditions) || []).find(c => c.type === 'Ready') || {};
}

function replicasText(svc) {
  const st = svc.status || {};
  return `${st.readyReplicas || 0}/${st.desiredReplicas || 0}`;
}

// scaleHistory turns the service's ScaledUp/ScaledDown events ("replicas
// A -> B (...)", written by the serving controller) into a step series of
// desired replicas from its creation to now.
export function scaleHistory(svc, events, now = Date.now()) {
  const scale = events.filter(e => e.reason === 'ScaledUp' || e.reason === 'ScaledDown')
    .map(e => ({t: Date.parse(e.lastTimestamp || e.firstTimestamp), m: /replicas (\d+) -> (\d+)/.exec(e.message || '')}))
    .filter(e => e.m && Number.isFinite(e.t)).sort((a, b) => a.t - b.t);
  const created = Date.parse(svc.metadata.creationTimestamp);
  const pts = [];
  const first = scale.length ? Number(scale[0].m[1]) : ((svc.status && svc.status.desiredReplicas) || 0);
  if (Number.isFinite(created)) pts.push({x: created, y: first});
  for (const e of scale) pts.push({x: e.t, y: Number(e.m[2])});
  pts.push({x: now, y: (svc.status && svc.status.desiredReplicas) ?? (pts.length ? pts[pts.length - 1].y : 0)});
  return pts;
}

function chart(title, series, opts = {}) {
  return h('figure', {class: 'metric-chart', 'data-chart': opts.id},
    h('h3', {}, title), lineChart(series, {title, xFormat: timeFormat, yMin: 0, ...opts}), legend(series));
}

function chartsCard(svc, events, series, readySamples, win) {
  const buckets = series.buckets || [];
  const step = series.stepSeconds || 1;
  const x = b => Date.parse(b.time);
  const since = Date.parse(series.since);
  const scale = scaleHistory(svc, events).map(p => ({x: Math.max(p.x, since), y: p.y}));
  const kept = scale.filter((p, i) => i === scale.length - 1 || scale[i + 1].x > since);
  const withTraffic = buckets.filter(b => b.requests > 0);
  const replicas = [
    {name: 'desired (autoscaler)', step: true, points: kept},
    {name: 'ready (seen while this page is open)', step: true, points: readySamples.filter(p => p.x >= since)},
    {name: 'replicas that answered', dots: true, points: withTraffic.map(b => ({x: x(b), y: b.replicas}))},
  ];
  const rate = [
    {name: 'requests/s', points: buckets.map(b => ({x: x(b), y: b.requests / step})), colorIndex: 0},
    {name: 'errors/s (status ≥ 400)', points: buckets.map(b => ({x: x(b), y: b.errors / step})), colorIndex: 6},
  ];
  const lat = [
    {name: 'latency p50', points: withTraffic.map(b => ({x: x(b), y: b.latencyP50Seconds})), colorIndex: 0},
    {name: 'latency p99', points: withTraffic.map(b => ({x: x(b), y: b.latencyP99Seconds})), colorIndex: 3, dashed: true},
    {name: 'TTFT p50', points: withTraffic.filter(b => b.ttftP50Seconds > 0).map(b => ({x: x(b), y: b.ttftP50Seconds})), colorIndex: 1},
    {name: 'TTFT p99', points: withTraffic.filter(b => b.ttftP99Seconds > 0).map(b => ({x: x(b), y: b.ttftP99Seconds})), colorIndex: 6, dashed: true},
  ];
  const tokens = [
    {name: 'prompt tokens/s (in)', points: buckets.map(b => ({x: x(b), y: b.promptTokens / step})), colorIndex: 2},
    {name: 'completion tokens/s (out)', points: buckets.map(b => ({x: x(b), y: b.completionTokens / step})), colorIndex: 3},
  ];
  const total = buckets.reduce((a, b) => a + b.requests, 0);
  const xr = {xMin: since, xMax: Date.parse(series.until)};
  return card(`Traffic, ${win.label} (${total} request${total === 1 ? '' : 's'}, buckets of ${win.step})`,
    series.truncated ? h('p', {class: 'muted'}, 'more requests than one chart reads: the oldest are left out') : null,
    h('div', {class: 'charts', id: 'service-charts'},
      chart('Replicas', replicas, {id: 'replicas', ...xr, empty: 'no replicas'}),
      chart('Request rate (per second)', rate, {id: 'rate', ...xr}),
      chart('Latency (seconds)', lat, {id: 'latency', ...xr, empty: 'no requests in this window'}),
      chart('Tokens (per second)', tokens, {id: 'tokens', ...xr})));
}

function statusCard(svc) {
  const sp = svc.spec, st = svc.status || {};
  const r = ready(svc);
  const a = sp.autoscaling || {};
  return card('Status',
    h('p', {class: 'big', id: 'service-replicas'}, `${st.readyReplicas || 0} ready of ${st.desiredReplicas || 0} desired`,
      h('span', {class: 'muted'}, ` (min ${sp.minReplicas ?? 1}, max ${sp.maxReplicas || ''})`)),
    h('p', {}, badge(r.status === 'True' ? 'Ready' : 'NotReady'), ' ', r.reason || '', r.message ? ': ' + r.message : ''),
    table(['', ''], [
      h('tr', {}, h('td', {}, 'models'), h('td', {}, (sp.models || []).join(', '))),
      h('tr', {}, h('td', {}, 'routing'), h('td', {}, sp.routing || '')),
      h('tr', {}, h('td', {}, 'autoscaling'), h('td', {}, `target ${a.targetInFlight || ''} in flight per replica` +
        (a.scaleToZeroAfter ? `, to zero after ${a.scaleToZeroAfter} idle` : ''))),
      h('tr', {}, h('td', {}, 'last scale'), h('td', {}, st.lastScaleTime ? ago(st.lastScaleTime) + ' ago' : '–')),
      h('tr', {}, h('td', {}, 'last request'), h('td', {}, st.lastRequestTime ? ago(st.lastRequestTime) + ' ago' : '–')),
    ], {class: 'kv'}));
}

function replicasCard(svc, ns) {
  const rows = ((svc.status && svc.status.replicas) || []).map(r => h('tr', {},
    h('td', {}, String(r.index)), h('td', {}, pageLink(r.job, 'jobs', ns, r.job)), h('td', {}, badge(r.state)), h('td', {}, String(r.port || ''))));
  return card('Replicas', table(['#', 'job', 'state', 'port'], rows, {id: 'service-replica-table'}));
}

// clock shows a time as HH:MM:SS, with the date when not today.
function clock(t) {
  const d = new Date(t);
  const hms = d.toTimeString().slice(0, 8);
  return d.toDateString() === new Date().toDateString() ? hms : d.toISOString().slice(0, 10) + ' ' + hms;
}

export function requestRows(items, withService = false) {
  return items.map(e => h('tr', {'data-request': String(e.id), class: e.status >= 400 ? 'failed' : null},
    h('td', {title: e.time, class: 'time'}, clock(e.time)),
    h('td', {}, e.namespace || '–'), withService ? h('td', {}, e.service || '–') : null, h('td', {}, e.key), h('td', {}, e.model || '–'),
    h('td', {}, e.replica || ''), h('td', {}, h('span', {class: 'badge ' + (e.status >= 400 ? 'phase-failed' : 'phase-succeeded')}, String(e.status))),
    h('td', {class: 'num'}, String(e.promptTokens)), h('td', {class: 'num'}, String(e.completionTokens)),
    h('td', {class: 'num'}, e.ttftSeconds ? seconds(e.ttftSeconds) : '–'), h('td', {class: 'num'}, seconds(e.latencySeconds)),
    h('td', {}, e.prompt ? h('details', {}, h('summary', {}, 'prompt'), h('pre', {class: 'prompt'}, e.prompt)) : '')));
}

export const requestHeaders = withService => ['time', 'namespace', ...(withService ? ['service'] : []), 'key', 'model', 'replica',
  'status', 'tokens in', 'tokens out', 'TTFT', 'latency', ''];

function eventsCard(events) {
  const sorted = [...events].sort((a, b) => String(b.lastTimestamp).localeCompare(String(a.lastTimestamp))).slice(0, 30);
  return card('Events', table(['age', 'reason', 'message'], sorted.map(e => h('tr', {},
    h('td', {}, ago(e.lastTimestamp)), h('td', {}, e.reason || ''), h('td', {class: 'reason'}, e.message || ''))), {id: 'events'}));
}

async function renderList(root, ctx) {
  const slot = h('div');
  root.append(h('h1', {}, 'Inference services'), slot);
  const svcs = new Map();
  const key = s => s.metadata.namespace + '/' + s.metadata.name;
  const l = await list('inferenceservices', '', '', ctx.signal);
  for (const s of l.items) svcs.set(key(s), s);
  const draw = () => {
    const rows = [...svcs.values()].sort((a, b) => key(a).localeCompare(key(b))).map(s => h('tr', {'data-service': s.metadata.name},
      h('td', {}, pageLink(s.metadata.name, 'services', s.metadata.namespace, s.metadata.name)), h('td', {}, s.metadata.namespace),
      h('td', {}, (s.spec.models || []).join(', ')), h('td', {}, replicasText(s)),
      h('td', {}, `${s.spec.minReplicas ?? 1}–${s.spec.maxReplicas || ''}`), h('td', {}, ready(s).reason || ''),
      h('td', {}, s.status && s.status.lastRequestTime ? ago(s.status.lastRequestTime) + ' ago' : '–'),
      h('td', {}, ago(s.metadata.creationTimestamp))));
    clear(slot).append(card('Services', table(['service', 'namespace', 'models', 'ready/desired', 'min–max', 'state', 'last request', 'age'],
      rows, {id: 'services'})));
  };
  draw();
  watch('inferenceservices', '', l.resourceVersion, '', ev => {
    if (ev.type === 'DELETED') svcs.delete(key(ev.object)); else svcs.set(key(ev.object), ev.object);
    draw();
  }, ctx.signal, ctx.setLive);
}

export async function render(root, [ns, name], ctx) {
  if (!ns) return renderList(root, ctx);
  let svc = await getJSON(path('inferenceservices', ns, name), ctx.signal);
  const winSelect = h('select', {id: 'window'}, WINDOWS.map((w, i) => h('option', {value: String(i), selected: i === 1}, w.label)));
  const slots = {status: h('div'), replicas: h('div'), charts: h('div', {class: 'wide'}), requests: h('div', {class: 'wide'}), events: h('div', {class: 'wide'})};
  root.append(h('h1', {}, 'Service ', h('span', {id: 'service-name'}, `${ns}/${name}`), ' ', h('label', {class: 'window'}, winSelect)),
    h('div', {class: 'grid'}, slots.status, slots.replicas, slots.charts, slots.requests, slots.events));
  const readySamples = [];
  const sampleReady = () => readySamples.push({x: Date.now(), y: (svc.status && svc.status.readyReplicas) || 0});
  sampleReady();
  const drawSvc = () => {
    clear(slots.status).append(statusCard(svc));
    clear(slots.replicas).append(replicasCard(svc, ns));
  };
  drawSvc();

  const evf = `fieldSelector=${encodeURIComponent(`involvedObject.kind=InferenceService,involvedObject.name=${name}`)}`;
  let events = [];
  let busy = false;
  const refresh = async () => {
    if (busy) return;
    busy = true;
    try {
      const win = WINDOWS[Number(winSelect.value)] || WINDOWS[1];
      const since = new Date(Date.now() - win.ms).toISOString().replace(/\.\d+Z$/, 'Z');
      const [series, recent, ev] = await Promise.all([
        requestSeries(ns, name, since, win.step, ctx.signal),
        requests({namespace: ns, service: name, limit: '10'}, ctx.signal),
        list('events', ns, evf, ctx.signal)]);
      events = ev.items;
      sampleReady();
      clear(slots.charts).append(chartsCard(svc, events, series, readySamples, win));
      const all = '/ui/requests?' + new URLSearchParams({namespace: ns, service: name});
      clear(slots.requests).append(card('Recent requests', table(requestHeaders(false), requestRows(recent), {id: 'service-requests'}),
        h('p', {}, h('a', {href: all, id: 'all-requests'}, 'All requests to this service in the request log'))));
      clear(slots.events).append(eventsCard(events));
    } catch (e) {
      if (!ctx.signal.aborted) clear(slots.charts).append(card('Traffic', h('p', {class: 'error'}, String(e.message || e))));
    } finally { busy = false; }
  };
  await refresh();
  winSelect.addEventListener('change', refresh);
  const poll = setInterval(refresh, 5000);
  ctx.signal.addEventListener('abort', () => clearInterval(poll));

  const f = `fieldSelector=${encodeURIComponent('metadata.name=' + name)}`;
  watch('inferenceservices', ns, svc.metadata.resourceVersion, f, ev => {
    if (ev.object.metadata.name !== name) return;
    if (ev.type === 'DELETED') { slots.status.prepend(h('p', {class: 'error'}, 'This service was deleted.')); return; }
    svc = ev.object;
    sampleReady();
    drawSvc();
  }, ctx.signal, ctx.setLive);
}
