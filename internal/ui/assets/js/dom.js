// Building DOM nodes. Every string becomes a text node or an attribute
// value through the DOM API, never markup, so names, labels and log lines
// that users control cannot inject HTML.

const SVG = 'http://www.w3.org/2000/svg';

function build(el, attrs, children) {
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) throw new Error('event handlers are attached with addEventListener');
    el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

// h('a', {href: '/ui/'}, 'text', child...) returns an HTML element.
export function h(tag, attrs, ...children) {
  return build(document.createElement(tag), attrs, children);
}

// s('path', {d: ...}) returns an SVG element.
export function s(tag, attrs, ...children) {
  return build(document.createElementNS(SVG, tag), attrs, children);
}

export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

// link to another dashboard page; path parts are URL-encoded.
export function pageLink(text, ...parts) {
  return h('a', {href: '/ui/' + parts.map(encodeURIComponent).join('/')}, text);
}

export function badge(phase) {
  return h('span', {class: 'badge phase-' + String(phase || 'Pending').toLowerCase()}, phase || 'Pending');
}

export function ago(t, now = Date.now()) {
  if (!t) return '';
  const sec = Math.max(0, Math.round((now - new Date(t).getTime()) / 1000));
  if (sec < 60) return sec + 's';
  if (sec < 3600) return Math.floor(sec / 60) + 'm';
  if (sec < 86400) return Math.floor(sec / 3600) + 'h';
  return Math.floor(sec / 86400) + 'd';
}

export function table(headers, rows, attrs) {
  return h('table', attrs,
    h('thead', {}, h('tr', {}, headers.map(x => h('th', {}, x)))),
    h('tbody', {}, rows.length ? rows : h('tr', {}, h('td', {colspan: headers.length, class: 'muted'}, 'none'))));
}

export function card(title, ...body) {
  return h('section', {class: 'card'}, h('h2', {}, title), ...body);
}

// quantity reads a Kubernetes quantity ("1500m", "2", "24Gi") as a number
// in base units.
export function quantity(q) {
  if (q === undefined || q === null) return 0;
  const m = /^([0-9.]+)([a-zA-Z]*)$/.exec(String(q));
  if (!m) return Number(q) || 0;
  const mult = {m: 1e-3, '': 1, k: 1e3, K: 1e3, M: 1e6, G: 1e9, T: 1e12, Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3, Ti: 1024 ** 4}[m[2]];
  return parseFloat(m[1]) * (mult ?? 1);
}

// seconds formats a duration in seconds: "850 ms", "1.24 s".
export function seconds(v) {
  if (typeof v !== 'number' || !Number.isFinite(v)) return '';
  if (v > 0 && v < 0.001) return '<1 ms';
  return v < 1 ? Math.round(v * 1000) + ' ms' : v.toFixed(2) + ' s';
}
