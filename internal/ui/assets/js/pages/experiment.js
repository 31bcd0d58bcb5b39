// Experiment pages: the list of experiments, and one experiment with its
// objective over trials (each trial a dot, the best so far a step line),
// the best trial and its parameters, every trial's objective metric over
// step, and the trials table. Both update live through the watch API.
import {h, clear, card, table, badge, pageLink, ago} from '../dom.js';
import {list, getJSON, path, watch} from '../api.js';
import {lineChart, legend, metricChart} from '../charts.js';
import {fetchMetrics} from './job.js';

// State colors index the chart palette; 0 (blue) is the best-so-far line.
const STATES = [
  {state: 'Succeeded', color: 2}, {state: 'EarlyStopped', color: 4}, {state: 'Running', color: 5},
  {state: 'Failed', color: 6}, {state: 'Pending', color: 7},
];

function fmtNum(v) {
  return v === undefined || v === null ? '' : String(+Number(v).toPrecision(5));
}

// paramCell shows a parameter value, numbers to five significant digits
// (the exact value, as the trial got it, in the tooltip).
function paramCell(v) {
  if (v === undefined || v === null) return h('td', {});
  const n = Number(v);
  const num = v !== '' && Number.isFinite(n);
  return h('td', {class: num ? 'num' : null, title: v}, num ? fmtNum(n) : v);
}

// bestSoFar returns, for trials in suggestion order, the best objective of
// the succeeded trials up to each one (as the controller picks the best
// trial); points only where there is one.
export function bestSoFar(trials, type) {
  const better = type === 'maximize' ? (a, b) => a > b : (a, b) => a < b;
  const out = [];
  let best = null;
  trials.forEach((t, i) => {
    if (t.state === 'Succeeded' && typeof t.objective === 'number' && (best === null || better(t.objective, best))) best = t.objective;
    if (best !== null) out.push({x: i + 1, y: best});
  });
  return out;
}

function objectiveCard(exp) {
  const trials = (exp.status && exp.status.trials) || [];
  const obj = exp.spec.objective || {};
  const series = [{name: `best so far (${obj.type || 'minimize'})`, colorIndex: 0, step: true, points: bestSoFar(trials, obj.type)}];
  for (const {state, color} of STATES) {
    const pts = [];
    trials.forEach((t, i) => {
      if ((t.state || 'Pending') === state && typeof t.objective === 'number') {
        pts.push({x: i + 1, y: t.objective, label: `${t.name} (${state}): ${obj.metricName} ${fmtNum(t.objective)} at step ${t.step || 0}`});
      }
    });
    if (pts.length) series.push({name: state, colorIndex: color, dots: true, points: pts});
  }
  const goal = obj.goal === undefined || obj.goal === null ? '' : ` · goal ${fmtNum(obj.goal)}`;
  return card(`Objective over trials: ${obj.metricName || ''}`,
    h('p', {class: 'muted'}, `x: trial in the order suggested · y: the trial's last reported ${obj.metricName || 'objective'}${goal}`),
    h('figure', {class: 'metric-chart', id: 'objective-chart'},
      lineChart(series, {title: `${obj.metricName} over trials`, empty: 'no trial has reported its objective yet',
        xFormat: v => Number.isInteger(v) ? String(v) : ''}),
      legend(series)));
}

function statusCard(exp) {
  const st = exp.status || {};
  const sp = exp.spec;
  const es = sp.earlyStopping ? ` · early stopping ${sp.earlyStopping.name}` : '';
  const trials = st.trials || [];
  const count = s => trials.filter(t => t.state === s).length;
  return card('Status',
    h('p', {id: 'exp-phase'}, badge(st.phase || 'Pending'),
      ` ${trials.length} of ${sp.maxTrials} trials · ${sp.parallelTrials || 1} in parallel · ${(sp.algorithm && sp.algorithm.name) || 'random'}${es}`),
    h('p', {class: 'muted'}, `${count('Succeeded')} succeeded · ${count('EarlyStopped')} early-stopped · ${count('Running')} running · ${count('Failed')} failed` +
      (st.startTime ? ` · started ${ago(st.startTime)} ago` : '')),
    st.message ? h('p', {class: 'reason', id: 'exp-message'}, (st.reason ? st.reason + ': ' : '') + st.message) : null);
}

function bestCard(exp, ns) {
  const st = exp.status || {};
  const best = (st.trials || []).find(t => t.name === st.bestTrial);
  if (!best) return card('Best trial', h('p', {class: 'muted', id: 'best-trial'}, 'no trial has succeeded yet'));
  const obj = exp.spec.objective || {};
  return card('Best trial',
    h('p', {class: 'big', id: 'best-trial'}, pageLink(best.name, 'jobs', ns, best.name),
      ` ${obj.metricName} = ${fmtNum(best.objective)}`),
    h('p', {class: 'muted'}, `reported at step ${best.step || 0}`),
    table(['parameter', 'value'], Object.keys(best.parameters || {}).sort().map(k =>
      h('tr', {}, h('td', {}, k), paramCell(best.parameters[k]))), {id: 'best-params'}));
}

function trialsCard(exp, ns) {
  const st = exp.status || {};
  const names = (exp.spec.parameters || []).map(p => p.name);
  const rows = (st.trials || []).map((t, i) => h('tr', {'data-trial': t.name, class: t.name === st.bestTrial ? 'best' : null},
    h('td', {}, String(i + 1)), h('td', {}, pageLink(t.name, 'jobs', ns, t.name)), h('td', {}, badge(t.state)),
    names.map(n => paramCell((t.parameters || {})[n])),
    h('td', {class: 'num'}, fmtNum(t.objective)), h('td', {class: 'num'}, t.step ? String(t.step) : ''),
    h('td', {class: 'reason'}, t.message || t.reason || '')));
  return card(`Trials (${rows.length})`,
    table(['#', 'trial', 'state', ...names, (exp.spec.objective || {}).metricName || 'objective', 'step', 'reason'], rows, {id: 'trials'}));
}

// curvesCard draws each trial's objective metric over step, from the job
// metrics API.
async function curvesCard(exp, ns, signal) {
  const metric = (exp.spec.objective || {}).metricName;
  const trials = ((exp.status && exp.status.trials) || []).filter(t => t.state !== 'Pending');
  const per = await Promise.all(trials.map(t =>
    fetchMetrics(ns, t.name, signal, metric).then(pts => pts.map(p => ({...p, name: t.name}))).catch(() => [])));
  return card(`${metric} over step, per trial`, h('div', {id: 'trial-curves'}, metricChart(per.flat(), {title: `${metric} of each trial`,
    empty: 'no trial has reported ' + metric + ' yet'})));
}

async function renderList(root, ctx) {
  const slot = h('div');
  root.append(h('h1', {}, 'Experiments'), slot);
  const exps = new Map();
  const key = e => e.metadata.namespace + '/' + e.metadata.name;
  const l = await list('experiments', '', '', ctx.signal);
  for (const e of l.items) exps.set(key(e), e);
  const draw = () => {
    const rows = [...exps.values()].sort((a, b) => String(b.metadata.creationTimestamp).localeCompare(String(a.metadata.creationTimestamp)))
      .map(e => {
        const st = e.status || {};
        const best = (st.trials || []).find(t => t.name === st.bestTrial);
        return h('tr', {'data-experiment': e.metadata.name},
          h('td', {}, pageLink(e.metadata.name, 'experiments', e.metadata.namespace, e.metadata.name)),
          h('td', {}, e.metadata.namespace), h('td', {}, badge(st.phase || 'Pending')),
          h('td', {}, `${(st.trials || []).length} / ${e.spec.maxTrials}`),
          h('td', {}, (e.spec.objective || {}).metricName || ''),
          h('td', {}, best ? `${best.name}: ${fmtNum(best.objective)}` : '–'),
          h('td', {}, ago(e.metadata.creationTimestamp)));
      });
    clear(slot).append(card('Experiments', table(['experiment', 'namespace', 'phase', 'trials', 'objective', 'best', 'age'], rows, {id: 'experiments'})));
  };
  draw();
  watch('experiments', '', l.resourceVersion, '', ev => {
    if (ev.type === 'DELETED') exps.delete(key(ev.object)); else exps.set(key(ev.object), ev.object);
    draw();
  }, ctx.signal, ctx.setLive);
}

export async function render(root, [ns, name], ctx) {
  if (!ns) return renderList(root, ctx);
  let exp = await getJSON(path('experiments', ns, name), ctx.signal);
  const slots = {status: h('div'), best: h('div'), objective: h('div'), curves: h('div'), trials: h('div', {class: 'wide'})};
  root.append(h('h1', {}, 'Experiment ', h('span', {id: 'experiment-name'}, `${ns}/${name}`)),
    h('div', {class: 'grid'}, slots.status, slots.best, slots.objective, slots.curves, slots.trials));
  const draw = () => {
    clear(slots.status).append(statusCard(exp));
    clear(slots.best).append(bestCard(exp, ns));
    clear(slots.objective).append(objectiveCard(exp));
    clear(slots.trials).append(trialsCard(exp, ns));
  };
  draw();

  // The per-trial curves read one metrics request per trial: redrawn at
  // most every 3 s however often the experiment changes.
  let curvesDue = true, curvesBusy = false;
  const drawCurves = async () => {
    if (!curvesDue || curvesBusy) return;
    curvesDue = false; curvesBusy = true;
    try {
      const c = await curvesCard(exp, ns, ctx.signal);
      clear(slots.curves).append(c);
    } catch (e) { /* the next change retries */ } finally { curvesBusy = false; }
  };
  drawCurves();
  const tick = setInterval(drawCurves, 3000);
  ctx.signal.addEventListener('abort', () => clearInterval(tick));

  const f = `fieldSelector=${encodeURIComponent('metadata.name=' + name)}`;
  watch('experiments', ns, exp.metadata.resourceVersion, f, ev => {
    if (ev.object.metadata.name !== name) return;
    if (ev.type === 'DELETED') { slots.status.prepend(h('p', {class: 'error'}, 'This experiment was deleted.')); return; }
    exp = ev.object;
    curvesDue = true;
    draw();
  }, ctx.signal, ctx.setLive);
}
