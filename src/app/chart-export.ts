/**
 * Export of charts and their data, shared by every chart of the lab (see ChartFrame). No
 * React here: the table and SVG builders are pure (unit-tested in Node); the PNG and
 * download helpers use the DOM only when called.
 *
 * Figures are built from the chart's table, not copied from the page's markup, so an
 * exported SVG holds only escaped text and shapes (never markup from prompts or links).
 */
import { formatCsv } from '../core/facts/csv';

export type Cell = string | number;

export interface Column {
  key: string;
  label: string;
  /** Numeric columns sort by value and align right. */
  numeric?: boolean;
}

export interface TableSpec {
  columns: Column[];
  rows: Array<Record<string, Cell>>;
}

export interface SortState {
  key: string;
  desc: boolean;
}

/** Rows sorted by one column (numbers by value, NaN last; text by locale), stable. */
export function sortRows<R extends Record<string, Cell>>(rows: R[], sort: SortState | undefined, numeric: boolean): R[] {
  if (!sort) return rows;
  const sign = sort.desc ? -1 : 1;
  return rows
    .map((row, i) => ({ row, i }))
    .sort((a, b) => {
      const x = a.row[sort.key];
      const y = b.row[sort.key];
      if (numeric) {
        const nx = Number(x);
        const ny = Number(y);
        if (Number.isNaN(nx) || Number.isNaN(ny)) return Number.isNaN(nx) === Number.isNaN(ny) ? a.i - b.i : Number.isNaN(nx) ? 1 : -1;
        return sign * (nx - ny) || a.i - b.i;
      }
      return sign * String(x).localeCompare(String(y)) || a.i - b.i;
    })
    .map(({ row }) => row);
}

/** The table as RFC 4180 CSV; numbers at full precision. */
export function tableToCsv(table: TableSpec): string {
  return formatCsv([table.columns.map((c) => c.key), ...table.rows.map((r) => table.columns.map((c) => cellText(r[c.key])))]);
}

function cellText(value: Cell | undefined): string {
  if (value === undefined) return '';
  return typeof value === 'number' ? (Number.isFinite(value) ? String(value) : '') : value;
}

/** Pretty JSON of a result, with typed arrays written as plain arrays. */
export function resultToJson(value: unknown): string {
  return `${JSON.stringify(value, (_k, v: unknown) => (ArrayBuffer.isView(v) && !(v instanceof DataView) ? Array.from(v as unknown as ArrayLike<number>) : v), 2)}\n`;
}

export function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c]!);
}

/** Colour-blind-safe series colours (Okabe–Ito blue, vermillion, bluish green, orange). */
export const SERIES_COLOURS = ['#0072B2', '#D55E00', '#009E73', '#E69F00'] as const;

export interface BarFigure {
  title: string;
  /** Row label column and one or more value columns drawn as grouped horizontal bars. */
  labelKey: string;
  valueKeys: string[];
  /** Bars start at 0; a symmetric axis is used when values are negative. */
  format?: (v: number) => string;
}

const FONT = "font-family='system-ui, sans-serif'";

/** A grouped horizontal bar chart of table columns, as a standalone SVG document. */
export function barFigureSvg(table: TableSpec, figure: BarFigure): string {
  const format = figure.format ?? ((v: number) => (Number.isFinite(v) ? v.toPrecision(3) : '–'));
  const labelW = 220;
  const barW = 300;
  const barH = 12;
  const rowH = figure.valueKeys.length * (barH + 2) + 8;
  const top = 40;
  const values = table.rows.flatMap((r) => figure.valueKeys.map((k) => Number(r[k])).filter(Number.isFinite));
  const maxAbs = Math.max(1e-12, ...values.map(Math.abs));
  const signed = values.some((v) => v < 0);
  const zeroX = labelW + (signed ? barW / 2 : 0);
  const scale = (signed ? barW / 2 : barW) / maxAbs;
  const width = labelW + barW + 90;
  const height = top + table.rows.length * rowH + 10;
  const columnLabel = (key: string) => table.columns.find((c) => c.key === key)?.label ?? key;
  const parts: string[] = [
    `<svg xmlns='http://www.w3.org/2000/svg' width='${width}' height='${height}' viewBox='0 0 ${width} ${height}' ${FONT} font-size='11'>`,
    `<rect width='100%' height='100%' fill='#fff'/>`,
    `<text x='8' y='16' font-size='13' font-weight='600'>${escapeXml(figure.title)}</text>`,
  ];
  figure.valueKeys.forEach((key, s) => {
    const x = labelW + s * 110;
    parts.push(`<rect x='${x}' y='24' width='10' height='10' fill='${SERIES_COLOURS[s % SERIES_COLOURS.length]}'/>`, `<text x='${x + 14}' y='33'>${escapeXml(columnLabel(key))}</text>`);
  });
  parts.push(`<line x1='${zeroX}' x2='${zeroX}' y1='${top}' y2='${height - 10}' stroke='#888'/>`);
  table.rows.forEach((row, i) => {
    const y = top + i * rowH + 4;
    const label = String(row[figure.labelKey] ?? '');
    parts.push(`<text x='${labelW - 6}' y='${y + barH}' text-anchor='end'>${escapeXml(label.length > 36 ? `${label.slice(0, 35)}…` : label)}</text>`);
    figure.valueKeys.forEach((key, s) => {
      const v = Number(row[key]);
      const yy = y + s * (barH + 2);
      const w = Number.isFinite(v) ? Math.abs(v) * scale : 0;
      const x = v < 0 ? zeroX - w : zeroX;
      parts.push(`<rect x='${x.toFixed(2)}' y='${yy}' width='${w.toFixed(2)}' height='${barH}' fill='${SERIES_COLOURS[s % SERIES_COLOURS.length]}'/>`);
      parts.push(`<text x='${labelW + barW + 6}' y='${yy + barH - 2}'>${escapeXml(format(v))}</text>`);
    });
  });
  parts.push('</svg>');
  return parts.join('');
}

/** A raster chart (canvas) wrapped as an SVG document with its title and caption. */
export function imageFigureSvg(pngDataUrl: string, imageWidth: number, imageHeight: number, title: string, caption: string): string {
  if (!pngDataUrl.startsWith('data:image/png;base64,')) throw new Error('imageFigureSvg needs a PNG data URL');
  const width = Math.max(imageWidth, 200);
  const height = imageHeight + 48;
  return [
    `<svg xmlns='http://www.w3.org/2000/svg' xmlns:xlink='http://www.w3.org/1999/xlink' width='${width}' height='${height}' viewBox='0 0 ${width} ${height}' ${FONT} font-size='11'>`,
    `<rect width='100%' height='100%' fill='#fff'/>`,
    `<text x='4' y='15' font-size='13' font-weight='600'>${escapeXml(title)}</text>`,
    `<image x='0' y='24' width='${imageWidth}' height='${imageHeight}' image-rendering='pixelated' href='${pngDataUrl}' xlink:href='${pngDataUrl}'/>`,
    `<text x='4' y='${imageHeight + 40}' fill='#555'>${escapeXml(caption)}</text>`,
    '</svg>',
  ].join('');
}

/** Size of an SVG document from its width/height attributes. */
export function svgSize(svg: string): { width: number; height: number } {
  const width = Number(/\swidth='([\d.]+)'/.exec(svg)?.[1] ?? 600);
  const height = Number(/\sheight='([\d.]+)'/.exec(svg)?.[1] ?? 400);
  return { width, height };
}

/** Rasterises an SVG document (at 2× for sharp text) to a PNG blob. */
export async function svgToPng(svg: string): Promise<Blob> {
  const { width, height } = svgSize(svg);
  const url = URL.createObjectURL(new Blob([svg], { type: 'image/svg+xml' }));
  try {
    const image = new Image();
    image.src = url;
    await image.decode();
    const canvas = document.createElement('canvas');
    canvas.width = width * 2;
    canvas.height = height * 2;
    const ctx = canvas.getContext('2d');
    if (!ctx) throw new Error('This browser cannot draw on a canvas, so the PNG cannot be made.');
    ctx.scale(2, 2);
    ctx.drawImage(image, 0, 0, width, height);
    return await canvasToPng(canvas);
  } finally {
    URL.revokeObjectURL(url);
  }
}

export function canvasToPng(canvas: HTMLCanvasElement): Promise<Blob> {
  return new Promise((resolve, reject) => canvas.toBlob((blob) => (blob ? resolve(blob) : reject(new Error('The chart could not be encoded as PNG.'))), 'image/png'));
}
