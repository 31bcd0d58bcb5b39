// SVG charts: a line chart over numeric x (steps or times), stacked usage
// bars, and the metric chart that takes {name, step, value, time} points.
import {h, s} from './dom.js';

const COLORS = ['#2f6fdf', '#e8683f', '#2aa876', '#9b59b6', '#d4a017', '#16a2b8', '#c0392b', '#7f8c8d'];

function niceTicks(min, max, count = 5) {
  if (!(max > min)) { max = min + 1; }
  const span = max - min;
  const step0 = Math.pow(10, Math.floor(Math.log10(span / count)));
  const step = [1, 2, 5, 10].map(m => m * step0).find(st => span / st <= count) || step0 * 10;
  // From the last round value at or below min to the first at or above
  // max, so that every point lies within the labelled grid.
  const ticks = [];
  for (let v = Math.floor(min / step + 1e-9) * step; ; v += step) {
    ticks.push(+v.toPrecision(12));
    if (v >= max - 1e-9 * step || ticks.length > 4 * count) break;
  }
  return ticks;
}

// timeTicks puts up to six ticks on a time axis (ms) at round clock times:
// every 1, 2, 5, 10 s, 15 s, 30 s, 1, 2, 5, 10, 15, 30 minutes, 1, 2, 3, 6,
// 12 hours or a day.
function timeTicks(t0, t1) {
  const steps = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400].map(x => x * 1000);
  const step = steps.find(st => (t1 - t0) / st <= 6) || steps[steps.length - 1];
  // Round in local time, so that "every hour" means on the hour here.
  const off = new Date(t0).getTimezoneOffset() * 60000;
  const ticks = [];
  for (let v = Math.ceil((t0 - off) / step) * step + off; v <= t1; v += step) ticks.push(v);
  return ticks;
}

function fmt(v) {
  if (Math.abs(v) >= 1e6 || (Math.abs(v) < 1e-3 && v !== 0)) return v.toExponential(1);
  return String(+v.toPrecision(4));
}

// lineChart draws series [{name, points: [{x, y, label?}], colorIndex?,
// dots?, step?, dashed?}]: a line, dots (one per point, label as its tooltip) or a step
// line that holds each value until the next point. opts: width, height,
// xFormat (tick label), xMin, xMax, yMin, yMax, area (fill under the first series),
// title (for the accessible name).
export function lineChart(series, opts = {}) {
  const W = opts.width || 560, H = opts.height || 220;
  const m = {l: 48, r: 12, t: 10, b: 26};
  const pts = series.flatMap(se => se.points);
  const svg = s('svg', {viewBox: `0 0 ${W} ${H}`, class: 'chart', role: 'img', 'aria-label': opts.title || 'chart'});
  if (!pts.length) {
    svg.append(s('text', {x: W / 2, y: H / 2, 'text-anchor': 'middle', class: 'muted'}, opts.empty || 'no data yet'));
    return svg;
  }
  let x0 = opts.xMin ?? Math.min(...pts.map(p => p.x)), x1 = opts.xMax ?? Math.max(...pts.map(p => p.x));
  let y0 = opts.yMin ?? Math.min(...pts.map(p => p.y)), y1 = opts.yMax ?? Math.max(...pts.map(p => p.y));
  if (x1 === x0) x1 = x0 + 1;
  if (y1 === y0) { y1 = y0 + 1; }
  const yt = niceTicks(y0, y1);
  y0 = Math.min(y0, yt[0]); y1 = Math.max(y1, yt[yt.length - 1]);
  const X = x => m.l + (x - x0) / (x1 - x0) * (W - m.l - m.r);
  const Y = y => H - m.b - (y - y0) / (y1 - y0) * (H - m.t - m.b);
  const grid = s('g', {class: 'grid'});
  for (const t of yt) {
    grid.append(s('line', {x1: m.l, x2: W - m.r, y1: Y(t), y2: Y(t)}));
    grid.append(s('text', {x: m.l - 6, y: Y(t) + 4, 'text-anchor': 'end'}, fmt(t)));
  }
  const xf = opts.xFormat || fmt;
  for (const t of xf === timeFormat ? timeTicks(x0, x1) : niceTicks(x0, x1, 6)) {
    // Leave out ticks whose label would be cut at the edges.
    if (t < x0 || t > x1 || X(t) > W - m.r - 22 || X(t) < m.l + 10) continue;
    grid.append(s('text', {x: X(t), y: H - 8, 'text-anchor': 'middle'}, xf(t, x1 - x0)));
  }
  svg.append(grid);
  series.forEach((se, i) => {
    const color = COLORS[(se.colorIndex ?? i) % COLORS.length];
    const sorted = [...se.points].sort((a, b) => a.x - b.x);
    if (!sorted.length) return;
    if (se.dots) {
      const g = s('g', {class: 'dots', 'data-name': se.name});
      for (const p of sorted) {
        g.append(s('circle', {cx: X(p.x).toFixed(1), cy: Y(p.y).toFixed(1), r: 4, fill: color, class: 'dot'},
          s('title', {}, p.label || `${se.name}: ${fmt(p.y)}`)));
      }
      svg.append(g);
      return;
    }
    // A step series holds each value until the next point.
    const d = sorted.map((p, j) => (j ? (se.step ? 'H' + X(p.x).toFixed(1) + ' V' : 'L' + X(p.x).toFixed(1) + ' ') : 'M' + X(p.x).toFixed(1) + ' ') +
      Y(p.y).toFixed(1)).join(' ');
    if (opts.area && i === 0) {
      svg.append(s('path', {d: d + ` L${X(sorted[sorted.length - 1].x).toFixed(1)} ${Y(y0)} L${X(sorted[0].x).toFixed(1)} ${Y(y0)} Z`,
        fill: color, 'fill-opacity': 0.15, stroke: 'none'}));
    }
    svg.append(s('path', {d, fill: 'none', stroke: color, 'stroke-width': 2, class: 'series', 'data-name': se.name,
      'stroke-dasharray': se.dashed ? '5 4' : null},
      s('title', {}, se.name)));
    if (sorted.length === 1) svg.append(s('circle', {cx: X(sorted[0].x), cy: Y(sorted[0].y), r: 3, fill: color}));
  });
  return svg;
}

export function legend(series) {
  return h('div', {class: 'legend'}, series.map((se, i) =>
    h('span', {}, h('i', {class: 'swatch', 'data-color': se.colorIndex ?? (i % COLORS.length)}), se.name)));
}

// usageBar shows used of nominal with the borrowed part marked; used may
// pass nominal when the queue borrows.
export function usageBar(used, nominal, borrowed) {
  const full = Math.max(nominal, used, 1e-9);
  const own = Math.max(0, used - borrowed);
  const pct = v => (100 * v / full).toFixed(1);
  const W = 300, H = 16;
  return s('svg', {viewBox: `0 0 ${W} ${H}`, class: 'bar', role: 'img',
    'aria-label': `${fmt(used)} used of ${fmt(nominal)}, ${fmt(borrowed)} borrowed`},
  s('rect', {x: 0, y: 0, width: W, height: H, class: 'bar-bg'}),
  s('rect', {x: 0, y: 0, width: W * pct(own) / 100, height: H, class: 'bar-own'}),
  s('rect', {x: W * pct(own) / 100, y: 0, width: W * pct(borrowed) / 100, height: H, class: 'bar-borrowed'}),
  s('line', {x1: W * pct(nominal) / 100, x2: W * pct(nominal) / 100, y1: 0, y2: H, class: 'bar-quota'}));
}

// metricChart draws a job's metrics: an array of {name, step, value, time},
// one line per name over step, e.g. loss and accuracy.
export function metricChart(points, opts = {}) {
  const byName = new Map();
  for (const p of points || []) {
    if (typeof p.value !== 'number' || !Number.isFinite(p.value)) continue;
    const name = String(p.name);
    if (!byName.has(name)) byName.set(name, []);
    byName.get(name).push({x: Number(p.step) || 0, y: p.value});
  }
  const series = [...byName.entries()].map(([name, pts]) => ({name, points: pts}));
  const fig = h('figure', {class: 'metric-chart'});
  fig.append(lineChart(series, {title: opts.title || 'metrics over step', empty: opts.empty || 'no metrics reported',
    xFormat: v => Number.isInteger(v) ? fmt(v) : ''}));
  if (series.length) fig.append(legend(series));
  return fig;
}

// timeFormat labels a time axis: hours and minutes, with seconds when the
// axis spans less than ten minutes.
export function timeFormat(ms, span = Infinity) {
  const d = new Date(ms);
  return d.toTimeString().slice(0, span < 600000 ? 8 : 5);
}
