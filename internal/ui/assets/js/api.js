// The API as the dashboard uses it: reads authenticated by the session
// cookie, watches as newline-delimited JSON streams, followed logs as text.

export const API = '/apis/skiff.dev/v1alpha1';

const enc = encodeURIComponent;

export function path(plural, namespace, name, sub) {
  let p = API;
  if (namespace) p += '/namespaces/' + enc(namespace);
  p += '/' + plural;
  if (name) p += '/' + enc(name);
  if (sub) p += '/' + sub;
  return p;
}

function toLogin() {
  location.assign('/ui/login?next=' + enc(location.pathname));
}

export class APIError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

async function check(r) {
  if (r.status === 401) {
    toLogin();
    throw new APIError(401, 'not logged in');
  }
  if (!r.ok) {
    let msg = r.statusText;
    try { msg = (await r.json()).message || msg; } catch (e) { /* not JSON */ }
    throw new APIError(r.status, msg);
  }
  return r;
}

export async function getJSON(url, signal) {
  const r = await fetch(url, {credentials: 'same-origin', headers: {Accept: 'application/json'}, signal});
  return (await check(r)).json();
}

// list returns {items, resourceVersion}.
export async function list(plural, namespace, query = '', signal) {
  const l = await getJSON(path(plural, namespace) + (query ? '?' + query : ''), signal);
  return {items: l.items || [], resourceVersion: (l.metadata || {}).resourceVersion || ''};
}

async function stream(url, signal, onChunk) {
  const r = await check(await fetch(url, {credentials: 'same-origin', signal}));
  const reader = r.body.getReader();
  const dec = new TextDecoder();
  for (;;) {
    const {done, value} = await reader.read();
    if (done) return;
    onChunk(dec.decode(value, {stream: true}));
  }
}

// watch calls onEvent({type, object}) for each change after
// resourceVersion until signal aborts; it reconnects after errors and
// reports liveness through onState(true|false).
export async function watch(plural, namespace, resourceVersion, query, onEvent, signal, onState = () => {}) {
  let rv = resourceVersion;
  while (!signal.aborted) {
    let buf = '';
    try {
      const q = 'watch=true' + (rv ? '&resourceVersion=' + enc(rv) : '') + (query ? '&' + query : '');
      onState(true);
      await stream(path(plural, namespace) + '?' + q, signal, chunk => {
        buf += chunk;
        let i;
        while ((i = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, i).trim();
          buf = buf.slice(i + 1);
          if (!line) continue;
          const ev = JSON.parse(line);
          if (ev.type === 'ERROR') { rv = ''; continue; }
          if (ev.object && ev.object.metadata) rv = ev.object.metadata.resourceVersion || rv;
          onEvent(ev);
        }
      });
    } catch (e) {
      if (signal.aborted) return;
      if (e instanceof APIError && e.status === 410) rv = '';
    }
    onState(false);
    await new Promise(res => setTimeout(res, 1000));
  }
}

// followLog streams a replica's log to onText until the log ends or signal
// aborts.
export async function followLog(namespace, job, replica, onText, signal) {
  const q = 'follow=true' + (replica ? '&replica=' + enc(replica) : '');
  await stream(path('jobs', namespace, job, 'log') + '?' + q, signal, onText);
}

export async function gpus(signal) {
  return getJSON('/telemetry/gpus', signal);
}

// RequestsPath is the gateway's request log (what `skiff requests` reads).
export const RequestsPath = API + '/requests';

function query(params) {
  return Object.entries(params).filter(([, v]) => v !== undefined && v !== null && v !== '')
    .map(([k, v]) => enc(k) + '=' + enc(v)).join('&');
}

// requests reads request log entries, newest first; params: namespace,
// model, service, since, limit.
export async function requests(params, signal) {
  return (await getJSON(RequestsPath + '?' + query(params), signal)).items || [];
}

// requestSummary sums the request log per namespace and model.
export async function requestSummary(params, signal) {
  return (await getJSON(RequestsPath + '?' + query({...params, summary: 'true'}), signal)).items || [];
}

// requestSeries buckets one service's requests from since (RFC 3339) to
// now by step (a duration such as "10s").
export async function requestSeries(namespace, service, since, step, signal) {
  return (await getJSON(RequestsPath + '?' + query({series: 'true', namespace, service, since, step}), signal)).series;
}
