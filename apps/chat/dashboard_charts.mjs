// The dashboard's charts, drawn as SVG like the chat's rate chart (chart.mjs): a line chart of one figure
// per request, a line per model and backend, and a bar chart of GPU time per kind of dispatch. No chart
// library: these two shapes are a few dozen lines, and SVG draws without the GPU the model is using.
const SVG = 'http://www.w3.org/2000/svg';
const WIDTH = 480;
const HEIGHT = 170;
const PAD = { left: 44, right: 8, top: 8, bottom: 20 };
const COLORS = ['var(--accent)', '#d9822b', '#2e9e6b', '#9b59b6', '#c0392b'];

function el(name, attributes = {}, text = null) {
  const node = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attributes)) node.setAttribute(k, String(v));
  if (text !== null) node.textContent = text;
  return node;
}

const short = (v) => (v >= 1e4 ? `${(v / 1e3).toFixed(0)}k` : v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2));

function frame(svg) {
  svg.setAttribute('viewBox', `0 0 ${WIDTH} ${HEIGHT}`);
  svg.replaceChildren();
}

/**
 * @param {SVGSVGElement} svg
 * @param {{name: string, points: number[]}[]} series a line each (points in request order; null: no figure)
 * @param {string} empty what to say when there is nothing to draw
 * @returns {number} the points drawn
 */
export function drawLines(svg, series, empty) {
  frame(svg);
  const values = series.flatMap((s) => s.points.filter((v) => v !== null));
  if (values.length === 0) {
    svg.append(el('text', { x: WIDTH / 2, y: HEIGHT / 2, class: 'chart-empty', 'text-anchor': 'middle' }, empty));
    return 0;
  }
  const top = Math.max(...values) * 1.08 || 1;
  const n = Math.max(...series.map((s) => s.points.length));
  const x = (i) => PAD.left + (n > 1 ? (i * (WIDTH - PAD.left - PAD.right)) / (n - 1) : (WIDTH - PAD.left - PAD.right) / 2);
  const y = (v) => HEIGHT - PAD.bottom - (v / top) * (HEIGHT - PAD.top - PAD.bottom);
  for (const f of [0, 0.5, 1]) {
    svg.append(el('line', { x1: PAD.left, x2: WIDTH - PAD.right, y1: y(top * f), y2: y(top * f), class: 'chart-grid' }));
    svg.append(el('text', { x: PAD.left - 4, y: y(top * f) + 3, class: 'chart-axis', 'text-anchor': 'end' }, short(top * f)));
  }
  svg.append(el('text', { x: PAD.left, y: HEIGHT - 4, class: 'chart-axis' }, 'oldest'));
  svg.append(el('text', { x: WIDTH - PAD.right, y: HEIGHT - 4, class: 'chart-axis', 'text-anchor': 'end' }, `latest (${n} requests)`));
  let drawn = 0;
  series.forEach((s, k) => {
    const color = COLORS[k % COLORS.length];
    const points = s.points.map((v, i) => (v === null ? null : `${x(i).toFixed(1)},${y(v).toFixed(1)}`)).filter(Boolean);
    drawn += points.length;
    if (points.length > 1) svg.append(el('polyline', { points: points.join(' '), class: 'chart-line', style: `stroke: ${color}` }));
    for (const p of points.length > 40 ? [] : points) {
      const [cx, cy] = p.split(',');
      svg.append(el('circle', { cx, cy, r: 2.2, style: `fill: ${color}` }));
    }
    svg.append(el('text', { x: PAD.left + 6, y: PAD.top + 10 + 12 * k, class: 'chart-legend', style: `fill: ${color}` }, s.name));
  });
  return drawn;
}

/**
 * @param {SVGSVGElement} svg
 * @param {{name: string, value: number}[]} bars largest first
 * @param {string} unit
 * @param {string} empty
 * @returns {number} the bars drawn
 */
export function drawBars(svg, bars, unit, empty) {
  frame(svg);
  if (bars.length === 0) {
    svg.append(el('text', { x: WIDTH / 2, y: HEIGHT / 2, class: 'chart-empty', 'text-anchor': 'middle' }, empty));
    return 0;
  }
  const shown = bars.slice(0, 10);
  const top = Math.max(...shown.map((b) => b.value)) || 1;
  const row = (HEIGHT - PAD.top) / shown.length;
  const left = 110;
  shown.forEach((b, i) => {
    const yTop = PAD.top + i * row;
    const w = Math.max(1, (b.value / top) * (WIDTH - left - 70));
    svg.append(el('text', { x: left - 6, y: yTop + row * 0.65, class: 'chart-axis', 'text-anchor': 'end' }, b.name));
    svg.append(el('rect', { x: left, y: yTop + row * 0.15, width: w.toFixed(1), height: (row * 0.7).toFixed(1), class: 'chart-bar' }));
    svg.append(el('text', { x: left + w + 4, y: yTop + row * 0.65, class: 'chart-axis' }, `${short(b.value)} ${unit}`));
  });
  return shown.length;
}
