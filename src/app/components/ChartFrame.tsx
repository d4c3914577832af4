import { useId, useMemo, useRef, useState, type ReactNode } from 'react';
import { barFigureSvg, canvasToPng, imageFigureSvg, resultToJson, sortRows, svgToPng, tableToCsv, type BarFigure, type SortState, type TableSpec } from '../chart-export';
import { download, downloadBlob } from '../knowledge';

/** How a chart becomes a figure: bars drawn from its table, or the pixels of its canvas. */
export type FigureSource = { kind: 'bars'; bars: BarFigure } | { kind: 'canvas'; caption: string };

export interface ChartFrameProps {
  /** Title written into exported figures. */
  title: string;
  /** Base of the exported file names. */
  name: string;
  testId: string;
  figure: FigureSource;
  /** The table twin (and CSV); omitted when the chart brings its own (`twin`). */
  table?: TableSpec;
  twin?: ReactNode;
  /** The result behind the chart, for JSON export. */
  result?: () => unknown;
  children: ReactNode;
}

/**
 * The frame every chart of the lab sits in: export buttons (SVG, PNG, CSV, JSON) and a
 * sortable, keyboard-accessible table twin. A canvas chart marks its canvas with
 * `data-chart-canvas`; the frame finds it there.
 */
export function ChartFrame({ title, name, testId, figure, table, twin, result, children }: ChartFrameProps) {
  const body = useRef<HTMLDivElement>(null);
  const [exportError, setExportError] = useState<string>();

  const svgText = async (): Promise<string> => {
    if (figure.kind === 'bars') {
      if (!table) throw new Error('This chart has no table to draw from.');
      return barFigureSvg(table, figure.bars);
    }
    const canvas = chartCanvas();
    return imageFigureSvg(canvas.toDataURL('image/png'), canvas.clientWidth || canvas.width, canvas.clientHeight || canvas.height, title, figure.caption);
  };
  const chartCanvas = (): HTMLCanvasElement => {
    const canvas = body.current?.querySelector<HTMLCanvasElement>('canvas[data-chart-canvas]');
    if (!canvas) throw new Error('The chart has not been drawn yet.');
    return canvas;
  };
  const run = (action: () => Promise<void> | void) => async () => {
    try {
      setExportError(undefined);
      await action();
    } catch (err) {
      setExportError(`Export failed: ${err instanceof Error ? err.message : String(err)}`);
    }
  };

  return (
    <figure className="chart-frame" data-testid={testId}>
      <div ref={body} className="chart-body">
        {children}
      </div>
      <figcaption className="chart-tools">
        <span className="muted small">Export</span>
        <button type="button" className="small-button" data-testid="export-svg" onClick={run(async () => download(`${name}.svg`, await svgText(), 'image/svg+xml'))}>
          SVG
        </button>
        <button
          type="button"
          className="small-button"
          data-testid="export-png"
          onClick={run(async () => downloadBlob(`${name}.png`, figure.kind === 'canvas' ? await canvasToPng(chartCanvas()) : await svgToPng(await svgText())))}
        >
          PNG
        </button>
        {table && (
          <button type="button" className="small-button" data-testid="export-csv" onClick={run(() => download(`${name}.csv`, tableToCsv(table), 'text/csv'))}>
            CSV
          </button>
        )}
        {result && (
          <button type="button" className="small-button" data-testid="export-json" onClick={run(() => download(`${name}.json`, resultToJson(result()), 'application/json'))}>
            JSON
          </button>
        )}
        {exportError && (
          <span className="field-error small" role="alert" data-testid="export-error">
            {exportError}
          </span>
        )}
      </figcaption>
      {twin ?? (table && <TableTwin title={title} table={table} />)}
    </figure>
  );
}

/** A chart's data as a table: click or press Enter on a header to sort by it. */
export function TableTwin({ title, table }: { title: string; table: TableSpec }) {
  const [sort, setSort] = useState<SortState>();
  const captionId = useId();
  const column = table.columns.find((c) => c.key === sort?.key);
  const rows = useMemo(() => sortRows(table.rows, sort, !!column?.numeric), [table.rows, sort, column]);
  return (
    <details className="table-twin" data-testid="table-twin">
      <summary>Table</summary>
      <div className="table-scroll">
        <table className="data-table" aria-labelledby={captionId}>
          <caption id={captionId} className="visually-hidden">
            {title}
          </caption>
          <thead>
            <tr>
              {table.columns.map((c) => {
                const active = sort?.key === c.key;
                return (
                  <th key={c.key} scope="col" className={c.numeric ? 'num' : ''} aria-sort={active ? (sort!.desc ? 'descending' : 'ascending') : 'none'}>
                    <button type="button" className="sort-button" data-testid={`twin-sort-${c.key}`} onClick={() => setSort({ key: c.key, desc: active ? !sort!.desc : !!c.numeric })}>
                      {c.label}
                      <span aria-hidden="true">{active ? (sort!.desc ? ' ▼' : ' ▲') : ''}</span>
                    </button>
                  </th>
                );
              })}
            </tr>
          </thead>
          <tbody>
            {rows.map((r, i) => (
              <tr key={i} data-testid="twin-row">
                {table.columns.map((c) => (
                  <td key={c.key} className={c.numeric ? 'num' : ''}>
                    {typeof r[c.key] === 'number' ? formatCell(r[c.key] as number) : String(r[c.key] ?? '')}
                  </td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </details>
  );
}

function formatCell(v: number): string {
  if (!Number.isFinite(v)) return '–';
  if (Number.isInteger(v)) return String(v);
  const a = Math.abs(v);
  return a >= 0.001 && a < 1e5 ? v.toPrecision(4) : v.toExponential(3);
}
