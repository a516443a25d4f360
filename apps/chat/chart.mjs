// A small line chart of tokens/s over the reply being generated: an SVG polyline, updated at most once per
// frame. SVG rather than a canvas: a 2D canvas may wait on the GPU process, which is busy while the model
// runs on WebGPU.
const SVG = 'http://www.w3.org/2000/svg';
const WIDTH = 240;
const HEIGHT = 64;

export class RateChart {
  constructor(svg) {
    this.svg = svg;
    svg.setAttribute('viewBox', `0 0 ${WIDTH} ${HEIGHT}`);
    svg.setAttribute('preserveAspectRatio', 'none');
    this.line = document.createElementNS(SVG, 'polyline');
    this.line.setAttribute('class', 'rate-line');
    this.label = document.createElementNS(SVG, 'text');
    this.label.setAttribute('x', '4');
    this.label.setAttribute('y', '11');
    this.label.setAttribute('class', 'rate-label');
    svg.append(this.line, this.label);
    this.points = [];
    this.pending = false;
  }

  reset() {
    this.points = [];
    this.schedule();
  }

  add(tokensPerSecond) {
    this.points.push(tokensPerSecond);
    if (this.points.length > 256) this.points.shift();
    this.schedule();
  }

  schedule() {
    if (this.pending) return;
    this.pending = true;
    requestAnimationFrame(() => {
      this.pending = false;
      this.draw();
    });
  }

  draw() {
    const { points } = this;
    if (points.length < 2) {
      this.line.setAttribute('points', '');
      this.label.textContent = '';
      return;
    }
    const top = Math.max(...points);
    const scale = (HEIGHT - 16) / (top * 1.05 || 1);
    const step = (WIDTH - 2) / (points.length - 1);
    this.line.setAttribute('points', points.map((v, i) => `${(1 + i * step).toFixed(1)},${(HEIGHT - 2 - v * scale).toFixed(1)}`).join(' '));
    this.label.textContent = `max ${top.toFixed(1)} tokens/s`;
  }
}
