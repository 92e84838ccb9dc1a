// Horizontal bar charts as inline SVG (no scripts, no external resources).
import { escapeHtml } from "./_escape.ts";

/** One bar: a label, a value and an optional second (reference) value drawn behind it. */
export interface Bar {
  readonly label: string;
  readonly value: number;
  readonly reference?: number;
  /** The text shown after the bar (default: the value). */
  readonly text?: string;
}

/** Options of a chart. */
export interface BarChartOptions {
  /** The value at the right edge. */
  readonly max: number;
  /** The accessible title. */
  readonly title: string;
  /** The fill class of the bars (`a`, `b`, `c`). */
  readonly tone?: string;
}

const ROW = 16;
const LABEL = 250;
const WIDTH = 640;
const TEXT = 120;

/** An SVG chart with one row per bar; values are clamped to [0, max]. */
export function barChart(bars: readonly Bar[], options: BarChartOptions): string {
  const span = WIDTH - LABEL - TEXT;
  const scale = (v: number) =>
    options.max <= 0 ? 0 : Math.max(0, Math.min(1, v / options.max)) * span;
  const height = bars.length * ROW + 4;
  const rows = bars.map((b, i) => {
    const y = i * ROW + 2;
    const ref = b.reference === undefined
      ? ""
      : `<rect class="ref" x="${LABEL}" y="${y + 2}" width="${
        scale(b.reference).toFixed(1)
      }" height="${ROW - 4}"/>`;
    return `<g><title>${escapeHtml(`${b.label}: ${b.text ?? b.value}`)}</title>` +
      `<text class="l" x="${LABEL - 6}" y="${y + ROW - 4}">${escapeHtml(b.label)}</text>${ref}` +
      `<rect class="${options.tone ?? "a"}" x="${LABEL}" y="${y + 3}" width="${
        scale(b.value).toFixed(1)
      }" height="${ROW - 6}"/>` +
      `<text class="v" x="${LABEL + span + 6}" y="${y + ROW - 4}">${
        escapeHtml(b.text ?? String(b.value))
      }</text></g>`;
  }).join("");
  return `<svg class="chart" role="img" viewBox="0 0 ${WIDTH} ${height}" width="${WIDTH}" height="${height}">` +
    `<title>${escapeHtml(options.title)}</title>${rows}</svg>`;
}
