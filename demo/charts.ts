// Chart.js with only the parts the page uses, the box-plot plugin for latency distributions, and the page's look:
// one palette (a stream or a record keeps its color everywhere), system font, quiet grid lines.
import { BarController, BarElement, CategoryScale, Chart, Filler, Legend, LinearScale, LineController, LineElement, LogarithmicScale, PointElement, Tooltip, type ChartConfiguration, type ChartType } from 'chart.js';
import { BoxAndWiskers, BoxPlotController } from '@sgratzl/chartjs-chart-boxplot';

Chart.register(BarController, BarElement, CategoryScale, Filler, Legend, LinearScale, LineController, LineElement, LogarithmicScale, PointElement, Tooltip, BoxPlotController, BoxAndWiskers);
Chart.defaults.font.family = 'system-ui, -apple-system, "Segoe UI", Roboto, sans-serif';
Chart.defaults.font.size = 12;
Chart.defaults.color = '#4b5563';
Chart.defaults.borderColor = 'rgba(15, 23, 42, 0.08)';
Chart.defaults.maintainAspectRatio = false;

/** Sixteen distinguishable colors (Tableau 10, then a second, lighter set). */
export const PALETTE = [
  '#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f', '#edc948', '#b07aa1', '#ff9da7',
  '#9c755f', '#bab0ac', '#1f77b4', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#17becf',
];
export const color = (i: number) => PALETTE[i % PALETTE.length];

/** The color with alpha (for fills). */
export function tint(hex: string, alpha: number): string {
  const n = parseInt(hex.slice(1), 16);
  return `rgba(${(n >> 16) & 255}, ${(n >> 8) & 255}, ${n & 255}, ${alpha})`;
}

export function axisTitle(text: string) {
  return { display: true, text, color: '#6b7280', font: { size: 11 } };
}

/**
 * A chart in `canvas` that is rebuilt on every call with a new configuration (destroying the old one). The canvas's
 * wrapper gets data-datasets / data-points, so tests and people inspecting the page can see that it has data.
 */
export class ChartSlot<T extends ChartType = ChartType> {
  chart: Chart<T> | undefined;
  constructor(readonly canvas: HTMLCanvasElement) {}

  render(config: ChartConfiguration<T>): Chart<T> {
    this.chart?.destroy();
    this.chart = new Chart(this.canvas, config);
    this.mark();
    return this.chart;
  }

  /** Redraws after the datasets were changed in place. */
  update(): void {
    this.chart?.update('none');
    this.mark();
  }

  destroy(): void {
    this.chart?.destroy();
    this.chart = undefined;
    this.mark();
  }

  private mark(): void {
    const datasets = this.chart?.data.datasets ?? [];
    const wrapper = this.canvas.parentElement!;
    wrapper.dataset.datasets = String(datasets.length);
    wrapper.dataset.points = String(datasets.reduce((n, d) => n + (d.data as unknown[]).filter((v) => v !== null && v !== undefined).length, 0));
  }
}
