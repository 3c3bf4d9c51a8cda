import { h, num } from './dom.js';

const W = 300;
const H = 100;
const PAD = 18;

/** A line chart of one series of points {t, [key]} as SVG (no library, no inline style). */
export function lineChart(title, points, key, unit) {
  const values = points.map((p) => p[key]);
  const max = Math.max(...values, 0) || 1;
  const x = (i) => PAD + ((W - PAD - 4) * i) / Math.max(points.length - 1, 1);
  const y = (v) => H - PAD + 4 - ((H - PAD - 6) * v) / max;
  const d = values.map((v, i) => `${i === 0 ? 'M' : 'L'}${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(' ');
  const svg = (tag, attrs, ...c) => h(tag, { svg: true, ...attrs }, ...c);
  const last = values.at(-1) ?? 0;
  return h('div.chart', { 'data-chart': key },
    h('h4', `${title}: ${num(last, 2)} ${unit} now, max ${num(Math.max(...values, 0), 2)}`),
    svg('svg', { viewBox: `0 0 ${W} ${H}`, preserveAspectRatio: 'none', role: 'img', 'aria-label': `${title} over the last 15 minutes` },
      svg('line', { class: 'axis', x1: PAD, y1: H - PAD + 4, x2: W, y2: H - PAD + 4 }),
      svg('text', { x: 2, y: 10 }, num(max, 1)),
      svg('text', { x: 2, y: H - 2 }, '-15 min'),
      svg('text', { x: W - 24, y: H - 2 }, 'now'),
      svg('path', { class: 'line', d })));
}
