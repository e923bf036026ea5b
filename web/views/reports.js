// The reports screen: a range of days, KPI tiles and charts drawn as SVG with the DOM (no
// library, no markup strings). Every chart has a title, a legend, axis labels, <title>
// tooltips and its numbers in a table under a <details>.
import { api } from '../api.js';
import { h, replaceChildren } from '../dom.js';
import { t, getLocale, getLang } from '../i18n.js';
import { loading, failure, money } from '../ui.js';
import { platformLabel } from '../format.js';

const SVG = 'http://www.w3.org/2000/svg';
const TZ = 'Asia/Ho_Chi_Minh';
const TZ_OFFSET_MS = 7 * 3600 * 1000;
const PRESETS = [7, 30, 90];
const SERIES = 8; // colour classes .rc-s0 … .rc-s7
const REFRESH_MS = 15000;

function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    el.setAttribute(k, String(v));
  }
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

const tip = (text) => svg('title', {}, text);

/** Today in Vietnam as YYYY-MM-DD. */
function today() {
  return new Date(Date.now() + TZ_OFFSET_MS).toISOString().slice(0, 10);
}

function addDays(day, n) {
  const d = new Date(`${day}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + n);
  return d.toISOString().slice(0, 10);
}

// ── number formats ──

export function num(n) {
  return Number(n ?? 0).toLocaleString(getLocale(), { maximumFractionDigits: 1 });
}

/** 0.125 → "12,5 %" (vi) / "12.5%" (en); null → "—". */
export function pct(r) {
  if (r === null || r === undefined) return '—';
  const v = (Number(r) * 100).toLocaleString(getLocale(), { maximumFractionDigits: 1 });
  return getLang() === 'vi' ? `${v} %` : `${v}%`;
}

/** 200 → "3 phút 20 giây" / "3 min 20 s"; null → "—". */
export function duration(secs) {
  if (secs === null || secs === undefined) return '—';
  let s = Math.max(0, Math.round(Number(secs)));
  const d = Math.floor(s / 86400); s -= d * 86400;
  const hr = Math.floor(s / 3600); s -= hr * 3600;
  const m = Math.floor(s / 60); s -= m * 60;
  const parts = [];
  if (d) parts.push(t('reports.unit.d', { n: d }));
  if (hr) parts.push(t('reports.unit.h', { n: hr }));
  if (m && !d) parts.push(t('reports.unit.m', { n: m }));
  if ((s || parts.length === 0) && !d && !hr) parts.push(t('reports.unit.s', { n: s }));
  return parts.slice(0, 2).join(' ');
}

function shortDay(day) {
  const [, m, d] = day.split('-');
  return `${d}/${m}`;
}

/** A round upper bound for an axis (a whole number when `whole`). */
function niceMax(v, whole = true) {
  if (v <= 0) return whole ? 4 : 1;
  if (whole && v <= 4) return 4;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) {
    const c = m * p;
    if (c >= v && (!whole || Number.isInteger(c))) return c;
  }
  return 10 * p;
}

/** Grid lines of an axis from 0 to max: whole steps for counts. */
function ticks(max) {
  const n = max % 4 === 0 ? 4 : 5;
  return Array.from({ length: n + 1 }, (_, i) => (max * i) / n);
}

function truncate(s, n) {
  return s.length > n ? `${s.slice(0, n - 1)}…` : s;
}

// ── charts ──

let chartSeq = 0;

/** A chart panel: title, the SVG, a legend, the data table. */
function chartPanel({ testid, titleKey, chart, legend, table, empty }) {
  const id = `rc-${++chartSeq}`;
  return h('section', { class: 'panel rc-panel', testid, 'aria-labelledby': id },
    h('h2', { id, t: titleKey }),
    empty ? h('p', { class: 'empty', t: 'reports.empty' }) : [
      chart,
      legend && legend.length ? h('ul', { class: 'rc-legend' }, legend.map((l, i) =>
        h('li', {}, h('span', { class: `rc-swatch rc-s${l.series ?? i % SERIES}`, 'aria-hidden': 'true' }), l.label))) : null,
      h('details', { class: 'rc-details' },
        h('summary', { t: 'reports.show_table' }),
        h('div', { class: 'table-wrap' }, table)),
    ]);
}

function dataTable(head, rows) {
  return h('table', { class: 'table' },
    h('thead', {}, h('tr', {}, head.map((c, i) => h('th', { scope: 'col', class: i ? 'num' : null, text: c })))),
    h('tbody', {}, rows.map((r) => h('tr', {}, r.map((c, i) =>
      i ? h('td', { class: 'num', text: c }) : h('th', { scope: 'row', text: c }))))));
}

/**
 * Stacked vertical bars. rows: [{label, values: [n per series]}]; series: [{label}].
 */
function stackedBars({ rows, series, yLabel, xLabel, fmt = num, label }) {
  const W = 640, H = 280, L = 56, R = 10, T = 12, B = 52;
  const pw = W - L - R, ph = H - T - B;
  const totals = rows.map((r) => r.values.reduce((a, b) => a + b, 0));
  const max = niceMax(Math.max(0, ...totals));
  const bw = pw / Math.max(1, rows.length);
  const gap = bw > 6 ? Math.min(4, bw * 0.2) : 0;
  const y = (v) => T + ph - (v / max) * ph;
  const root = svg('svg', { viewBox: `0 0 ${W} ${H}`, class: 'rc-svg', role: 'img', 'aria-label': label, preserveAspectRatio: 'xMidYMid meet' });
  const grid = svg('g', { class: 'rc-grid' });
  for (const v of ticks(max)) {
    grid.append(svg('line', { x1: L, x2: W - R, y1: y(v), y2: y(v) }));
    grid.append(svg('text', { x: L - 6, y: y(v) + 4, 'text-anchor': 'end', class: 'rc-tick' }, fmt(v)));
  }
  root.append(grid);
  // Transparent columns under the bars, so a whole day has a tooltip with its total.
  const hits = svg('g', { class: 'rc-hits' });
  root.append(hits);
  const bars = svg('g', { class: 'rc-bars' });
  rows.forEach((r, i) => {
    let acc = 0;
    const x = L + i * bw + gap / 2;
    r.values.forEach((v, s) => {
      if (!v) return;
      const y0 = y(acc), y1 = y(acc + v);
      acc += v;
      bars.append(svg('rect', {
        x, y: y1, width: Math.max(0.5, bw - gap), height: Math.max(0.5, y0 - y1),
        class: `rc-bar rc-s${series[s].series ?? s % SERIES}`,
      }, tip(`${r.label} · ${series[s].label}: ${fmt(v)}`)));
    });
    hits.append(svg('rect', { x: L + i * bw, y: T, width: bw, height: ph, class: 'rc-hit' },
      tip(`${r.label}: ${fmt(totals[i])}`)));
  });
  root.append(bars);
  const every = Math.max(1, Math.ceil(rows.length / 8));
  const xl = svg('g', { class: 'rc-xlabels' });
  rows.forEach((r, i) => {
    if (i % every) return;
    xl.append(svg('text', { x: L + i * bw + bw / 2, y: T + ph + 18, 'text-anchor': 'middle', class: 'rc-tick' }, r.short ?? r.label));
  });
  root.append(xl);
  root.append(svg('line', { x1: L, x2: W - R, y1: T + ph, y2: T + ph, class: 'rc-axis' }));
  root.append(svg('text', { x: L + pw / 2, y: H - 8, 'text-anchor': 'middle', class: 'rc-axis-label' }, xLabel));
  root.append(svg('text', { x: 14, y: T + ph / 2, 'text-anchor': 'middle', transform: `rotate(-90 14 ${T + ph / 2})`, class: 'rc-axis-label' }, yLabel));
  return root;
}

/** Horizontal ranked bars. rows: [{label, value, text}]. */
function hBars({ rows, xLabel, fmt = num, label, max: fixedMax, series = 0, whole = true }) {
  const W = 640, RH = 30, L = 200, R = 110, T = 6, B = 36;
  const H = T + rows.length * RH + B;
  const pw = W - L - R;
  const max = fixedMax ?? niceMax(Math.max(0, ...rows.map((r) => r.value ?? 0)), whole);
  const root = svg('svg', { viewBox: `0 0 ${W} ${H}`, class: 'rc-svg', role: 'img', 'aria-label': label });
  rows.forEach((r, i) => {
    const yy = T + i * RH;
    const w = max ? ((r.value ?? 0) / max) * pw : 0;
    const text = r.text ?? fmt(r.value);
    root.append(svg('text', { x: L - 8, y: yy + RH / 2 + 5, 'text-anchor': 'end', class: 'rc-tick rc-rowlabel' }, truncate(r.label, 24)));
    root.append(svg('rect', { x: L, y: yy + 5, width: Math.max(r.value ? 1 : 0, w), height: RH - 10, class: `rc-bar rc-s${r.series ?? series}` },
      tip(`${r.label}: ${text}`)));
    root.append(svg('text', { x: L + w + 6, y: yy + RH / 2 + 5, class: 'rc-tick rc-value' }, text));
  });
  const base = T + rows.length * RH;
  root.append(svg('line', { x1: L, x2: L, y1: T, y2: base, class: 'rc-axis' }));
  root.append(svg('line', { x1: L, x2: L + pw, y1: base, y2: base, class: 'rc-axis' }));
  root.append(svg('text', { x: L, y: base + 14, 'text-anchor': 'start', class: 'rc-tick' }, fmt(0)));
  root.append(svg('text', { x: L + pw, y: base + 14, 'text-anchor': 'end', class: 'rc-tick' }, fmt(max)));
  root.append(svg('text', { x: L + pw / 2, y: H - 4, 'text-anchor': 'middle', class: 'rc-axis-label' }, xLabel));
  return root;
}

// ── the screen ──

export function mount(container, ctx) {
  const state = { preset: 30, from: addDays(today(), -29), to: today(), data: null, error: null, busy: false };
  let seq = 0;
  let refreshTimer = null;

  const body = h('div', { class: 'rc-body', 'aria-live': 'polite' });
  const fromInput = h('input', { type: 'date', class: 'input', id: 'reports-from', testid: 'reports-from', value: state.from });
  const toInput = h('input', { type: 'date', class: 'input', id: 'reports-to', testid: 'reports-to', value: state.to });
  const presetButtons = PRESETS.map((n) => h('button', {
    type: 'button', class: 'btn btn-secondary btn-sm', testid: `reports-preset-${n}`, dataset: { days: String(n) },
    on: { click: () => choosePreset(n) },
  }));
  const rangeError = h('p', { class: 'alert rc-range-error', role: 'alert', hidden: true, testid: 'reports-range-error' });

  const form = h('form', { class: 'rc-range', testid: 'reports-range', on: { submit: applyCustom } },
    h('div', { class: 'toolbar', role: 'group', 'aria-label': t('reports.presets') }, presetButtons),
    h('div', { class: 'toolbar rc-custom' },
      h('label', { class: 'rc-date', for: 'reports-from' }, h('span', { t: 'reports.from' }), fromInput),
      h('label', { class: 'rc-date', for: 'reports-to' }, h('span', { t: 'reports.to' }), toInput),
      h('button', { type: 'submit', class: 'btn btn-primary btn-sm', t: 'reports.apply', testid: 'reports-apply' })),
    rangeError);

  const page = h('section', { class: 'page reports', testid: 'reports-page' },
    h('div', { class: 'page-head' }, h('h1', { t: 'nav.reports' })),
    h('div', { class: 'panel' }, form),
    body);
  replaceChildren(container, page);

  function labelPresets() {
    for (const b of presetButtons) {
      const n = Number(b.dataset.days);
      b.textContent = t('reports.preset_days', { n });
      b.setAttribute('aria-pressed', String(state.preset === n));
    }
    form.firstChild.setAttribute('aria-label', t('reports.presets'));
  }

  function choosePreset(n) {
    state.preset = n;
    state.to = today();
    state.from = addDays(state.to, -(n - 1));
    fromInput.value = state.from;
    toInput.value = state.to;
    rangeError.hidden = true;
    labelPresets();
    load();
  }

  function applyCustom(ev) {
    ev.preventDefault();
    const from = fromInput.value, to = toInput.value;
    let err = null;
    if (!from || !to) err = 'reports.err_dates';
    else if (from > to) err = 'reports.err_order';
    else if ((new Date(`${to}T00:00:00Z`) - new Date(`${from}T00:00:00Z`)) / 86400000 + 1 > 366) err = 'reports.err_long';
    if (err) {
      rangeError.textContent = t(err);
      rangeError.hidden = false;
      return;
    }
    rangeError.hidden = true;
    state.preset = null;
    state.from = from;
    state.to = to;
    labelPresets();
    load();
  }

  async function load({ quiet = false } = {}) {
    const mine = ++seq;
    if (!quiet || !state.data) replaceChildren(body, loading());
    try {
      const data = await api.get('/reports', { from: state.from, to: state.to, tz: TZ });
      if (mine !== seq) return;
      state.data = data;
      state.error = null;
      render();
    } catch (err) {
      if (mine !== seq) return;
      state.error = err;
      if (!quiet || !state.data) replaceChildren(body, failure(err, () => load()));
    }
  }

  function render() {
    const d = state.data;
    if (!d) return;
    chartSeq = 0;
    const chName = new Map(d.channels.map((c) => [c.id, `${c.name} · ${platformLabel(c.platform)}`]));
    const channelLabel = (id) => (id ? chName.get(id) ?? t('reports.unknown_channel') : t('reports.no_channel'));
    const agentName = new Map(d.agents.map((a) => [a.id, a.name]));
    const agentLabel = (id) => (id ? agentName.get(id) ?? t('reports.unknown_agent') : t('reports.unassigned'));
    const o = d.orders;

    const tiles = h('div', { class: 'rc-kpis', testid: 'reports-kpis' },
      kpi('conversations', 'reports.kpi.conversations', num(d.conversations.total), d.conversations.total),
      kpi('leads', 'reports.kpi.leads', num(d.leads.total), d.leads.total),
      kpi('conversion', 'reports.kpi.conversion', pct(d.conversion.rate), d.conversion.rate),
      kpi('response', 'reports.kpi.response', duration(d.first_response.median_seconds), d.first_response.median_seconds,
        t('reports.kpi.response_hint', { n: num(d.first_response.count), p90: duration(d.first_response.p90_seconds) })),
      kpi('delivered', 'reports.kpi.delivered', num(o.delivered), o.delivered, money(o.delivered_cod)),
      kpi('returns', 'reports.kpi.return_rate', pct(o.return_rate), o.return_rate,
        t('reports.kpi.returned_hint', { n: num(o.returned) })));

    // Stacked by day, one series per channel (the channels with any volume, most first).
    const byDay = (vol, testid, titleKey) => {
      const ids = vol.by_channel.map((c) => c.channel_id);
      const series = ids.map((id, i) => ({ label: channelLabel(id), series: i % SERIES }));
      const rows = vol.by_day.map((day) => ({
        label: day.day,
        short: shortDay(day.day),
        values: ids.map((id) => day.by_channel.find((c) => c.channel_id === id)?.count ?? 0),
      }));
      return chartPanel({
        testid, titleKey, empty: vol.total === 0,
        chart: stackedBars({ rows, series, yLabel: t('reports.axis.count'), xLabel: t('reports.axis.day'), label: t(titleKey) }),
        legend: series,
        table: dataTable([t('reports.col.day'), ...series.map((s) => s.label), t('reports.col.total')],
          rows.map((r) => [r.label, ...r.values.map(num), num(r.values.reduce((a, b) => a + b, 0))])),
      });
    };

    const sources = d.leads.by_source.map((s) => ({ label: t(`reports.source.${s.key}`), value: s.count }));
    const fr = d.first_response;
    const frAgents = fr.by_agent.map((a) => ({ label: agentLabel(a.user_id), value: a.median_seconds, text: duration(a.median_seconds), a }));
    const frChannels = fr.by_channel.map((c) => ({ label: channelLabel(c.channel_id), value: c.median_seconds, text: duration(c.median_seconds), c }));
    const convAgents = d.conversion.by_agent.map((a) => ({ label: agentLabel(a.user_id), value: a.rate ?? 0, text: pct(a.rate), a }));
    const convChannels = d.conversion.by_channel.map((c) => ({ label: channelLabel(c.channel_id), value: c.rate ?? 0, text: pct(c.rate), a: c }));
    const convHead = [t('reports.col.leads'), t('reports.col.won'), t('reports.col.converted'), t('reports.col.orders'), t('reports.col.rate')];
    const convRow = (label, c) => [label, num(c.leads), num(c.won), num(c.converted), num(c.orders_confirmed), pct(c.rate)];
    const frHead = [t('reports.col.count'), t('reports.col.median'), t('reports.col.p90')];
    const frRow = (label, s) => [label, num(s.count), duration(s.median_seconds), duration(s.p90_seconds)];
    const durFmt = (v) => duration(v);
    const pctFmt = (v) => pct(v);

    const orderSeries = [
      { label: t('reports.delivered'), series: 2 },
      { label: t('reports.returned'), series: 5 },
    ];
    const orderRows = o.by_day.map((day) => ({ label: day.day, short: shortDay(day.day), values: [day.delivered, day.returned], day }));

    const cats = d.complaints.by_category.map((c) => ({ label: t(`reports.cat.${c.key}`), value: c.count, series: 5 }));
    const ratings = d.complaints.ratings.map((r) => ({ label: t('reports.rating', { n: r.key }), value: r.count, series: Number(r.key) <= 2 ? 5 : 2 }));
    const found = d.found_us.by_channel.map((c) => ({ label: channelLabel(c.channel_id), value: c.count, series: 1 }));
    const refs = d.found_us.referrals.map((r) => ({ label: r.key, value: r.count, series: 3 }));

    replaceChildren(body,
      tiles,
      h('div', { class: 'rc-grid-2' },
        byDay(d.conversations, 'reports-chart-conversations', 'reports.chart.conversations'),
        byDay(d.leads, 'reports-chart-leads', 'reports.chart.leads'),
        chartPanel({
          testid: 'reports-chart-lead-sources', titleKey: 'reports.chart.lead_sources', empty: sources.length === 0,
          chart: hBars({ rows: sources, xLabel: t('reports.axis.leads'), label: t('reports.chart.lead_sources'), series: 1 }),
          legend: [{ label: t('reports.legend.leads'), series: 1 }],
          table: dataTable([t('reports.col.source'), t('reports.col.leads')], sources.map((s) => [s.label, num(s.value)])),
        }),
        chartPanel({
          testid: 'reports-chart-response-agents', titleKey: 'reports.chart.response_agents', empty: frAgents.length === 0,
          chart: hBars({ rows: frAgents, xLabel: t('reports.axis.median_response'), fmt: durFmt, label: t('reports.chart.response_agents'), series: 4, whole: false }),
          legend: [{ label: t('reports.legend.median'), series: 4 }],
          table: h('div', {},
            dataTable([t('reports.col.agent'), ...frHead], [frRow(t('reports.all'), fr), ...frAgents.map((r) => frRow(r.label, r.a))]),
            dataTable([t('reports.col.channel'), ...frHead], frChannels.map((r) => frRow(r.label, r.c))),
            h('p', { class: 'hint', text: t('reports.unanswered', { n: num(fr.unanswered) }) })),
        }),
        chartPanel({
          testid: 'reports-chart-conversion-agents', titleKey: 'reports.chart.conversion_agents', empty: convAgents.length === 0,
          chart: hBars({ rows: convAgents, xLabel: t('reports.axis.rate'), fmt: pctFmt, max: 1, label: t('reports.chart.conversion_agents'), series: 2 }),
          legend: [{ label: t('reports.legend.rate'), series: 2 }],
          table: dataTable([t('reports.col.agent'), ...convHead], [convRow(t('reports.all'), d.conversion), ...convAgents.map((r) => convRow(r.label, r.a))]),
        }),
        chartPanel({
          testid: 'reports-chart-conversion-channels', titleKey: 'reports.chart.conversion_channels', empty: convChannels.length === 0,
          chart: hBars({ rows: convChannels, xLabel: t('reports.axis.rate'), fmt: pctFmt, max: 1, label: t('reports.chart.conversion_channels'), series: 0 }),
          legend: [{ label: t('reports.legend.rate'), series: 0 }],
          table: dataTable([t('reports.col.channel'), ...convHead], convChannels.map((r) => convRow(r.label, r.a))),
        }),
        chartPanel({
          testid: 'reports-chart-orders', titleKey: 'reports.chart.orders', empty: o.delivered + o.returned === 0,
          chart: stackedBars({ rows: orderRows, series: orderSeries, yLabel: t('reports.axis.orders'), xLabel: t('reports.axis.day'), label: t('reports.chart.orders') }),
          legend: orderSeries,
          table: h('div', {},
            dataTable([t('reports.col.day'), t('reports.delivered'), t('reports.returned'), t('reports.col.delivered_cod'), t('reports.col.returned_cod'), t('reports.col.return_rate')],
              orderRows.filter((r) => r.day.delivered + r.day.returned).map((r) => [r.label, num(r.day.delivered), num(r.day.returned), money(r.day.delivered_cod), money(r.day.returned_cod), pct(r.day.return_rate)])),
            dataTable([t('reports.col.channel'), t('reports.delivered'), t('reports.returned'), t('reports.col.delivered_cod'), t('reports.col.returned_cod'), t('reports.col.return_rate')],
              o.by_channel.map((c) => [channelLabel(c.channel_id), num(c.delivered), num(c.returned), money(c.delivered_cod), money(c.returned_cod), pct(c.return_rate)]))),
        }),
        chartPanel({
          testid: 'reports-chart-complaints', titleKey: 'reports.chart.complaints', empty: d.complaints.ratings.every((r) => !r.count),
          chart: h('div', {},
            cats.length ? hBars({ rows: cats, xLabel: t('reports.axis.complaints'), label: t('reports.chart.complaints') }) : h('p', { class: 'hint', t: 'reports.no_complaints' }),
            h('h3', { class: 'rc-sub', t: 'reports.ratings' }),
            hBars({ rows: ratings, xLabel: t('reports.axis.answers'), label: t('reports.ratings') })),
          legend: [{ label: t('reports.legend.unhappy'), series: 5 }, { label: t('reports.legend.other_ratings'), series: 2 }],
          table: h('div', {},
            dataTable([t('reports.col.category'), t('reports.col.count')], cats.map((c) => [c.label, num(c.value)])),
            dataTable([t('reports.col.rating'), t('reports.col.count')], ratings.map((c) => [c.label, num(c.value)])),
            h('p', { class: 'hint', text: t('reports.open_now', { n: num(d.complaints.open_now) }) })),
        }),
        chartPanel({
          testid: 'reports-chart-found-us', titleKey: 'reports.chart.found_us', empty: found.length === 0 && refs.length === 0,
          chart: h('div', {},
            h('p', { class: 'hint', text: t('reports.new_contacts', { n: num(d.found_us.new_contacts) }) }),
            found.length ? hBars({ rows: found, xLabel: t('reports.axis.contacts'), label: t('reports.chart.found_us') }) : null,
            h('h3', { class: 'rc-sub', t: 'reports.referrals' }),
            refs.length ? hBars({ rows: refs, xLabel: t('reports.axis.conversations'), label: t('reports.referrals') }) : h('p', { class: 'hint', t: 'reports.no_referrals' })),
          legend: [{ label: t('reports.legend.first_channel'), series: 1 }, { label: t('reports.legend.referral'), series: 3 }],
          table: h('div', {},
            dataTable([t('reports.col.channel'), t('reports.col.contacts')], found.map((c) => [c.label, num(c.value)])),
            dataTable([t('reports.col.referral'), t('reports.col.conversations')], refs.map((c) => [c.label, num(c.value)]))),
        })));
  }

  function kpi(name, key, value, raw, hint) {
    return h('div', { class: 'rc-kpi', testid: `reports-kpi-${name}`, dataset: { value: String(raw ?? '') } },
      h('span', { class: 'rc-kpi-label', t: key }),
      h('strong', { class: 'rc-kpi-value', testid: `reports-kpi-${name}-value`, text: value }),
      hint ? h('span', { class: 'hint', text: hint }) : null);
  }

  labelPresets();
  load();

  return {
    route() {},
    handleEvent(type) {
      if (type === 'resync') { load({ quiet: true }); return; }
      if (type === 'hello' || state.to < today()) return;
      // New traffic: refresh today's figures, at most every few seconds.
      if (!refreshTimer) {
        refreshTimer = setTimeout(() => { refreshTimer = null; load({ quiet: true }); }, REFRESH_MS);
      }
    },
    onLang() {
      labelPresets();
      if (!rangeError.hidden) rangeError.hidden = true;
      if (state.data) render();
      else if (state.error) replaceChildren(body, failure(state.error, () => load()));
    },
    destroy() {
      seq += 1;
      if (refreshTimer) clearTimeout(refreshTimer);
    },
  };
}
