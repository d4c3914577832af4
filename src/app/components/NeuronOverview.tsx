import { brushX, scaleLinear, select, type BrushBehavior, type D3BrushEvent } from 'd3';
import { useEffect, useMemo, useRef } from 'react';
import type { NeuronGrid } from '../knowledge';
import { drawHeat, summaryRow } from './map-draw';

const HEIGHT = 22;

/** The whole neuron axis (max over layers) with a D3 brush that sets the map's zoom. */
export function NeuronOverview({ grid, zoom, width, left, minSpan, onZoom }: { grid: NeuronGrid; zoom?: [number, number]; width: number; left: number; minSpan: number; onZoom(zoom: [number, number] | undefined): void }) {
  const canvas = useRef<HTMLCanvasElement>(null);
  const brushG = useRef<SVGGElement>(null);
  const brush = useRef<BrushBehavior<unknown>>(undefined);
  const summary = useMemo(() => summaryRow(grid), [grid]);
  const x = useMemo(() => scaleLinear().domain([0, grid.width]).range([0, width]), [grid.width, width]);
  const onZoomRef = useRef(onZoom);
  onZoomRef.current = onZoom;

  useEffect(() => {
    const el = canvas.current;
    if (!el) return;
    const dpr = Math.min(2, window.devicePixelRatio || 1);
    const columns = Math.round(width * dpr);
    el.width = columns;
    el.height = Math.round(HEIGHT * dpr);
    const ctx = el.getContext('2d');
    if (ctx) drawHeat(ctx, [summary], grid.maxAbs, [0, grid.width], columns, Math.round(HEIGHT * dpr));
  }, [summary, grid, width]);

  useEffect(() => {
    if (!brushG.current) return;
    const b = brushX<unknown>()
      .extent([
        [0, 0],
        [width, HEIGHT],
      ])
      .on('end', (event: D3BrushEvent<unknown>) => {
        if (!event.sourceEvent) return; // moved by code, not by the user
        const sel = event.selection as [number, number] | null;
        if (!sel) return onZoomRef.current(undefined);
        let from = Math.max(0, Math.round(x.invert(sel[0])));
        let to = Math.min(grid.width, Math.round(x.invert(sel[1])));
        if (to - from < minSpan) {
          const mid = (from + to) / 2;
          from = Math.max(0, Math.min(grid.width - minSpan, Math.round(mid - minSpan / 2)));
          to = from + minSpan;
        }
        onZoomRef.current(from === 0 && to === grid.width ? undefined : [from, to]);
      });
    brush.current = b;
    select(brushG.current).call(b);
    return () => {
      if (brushG.current) select(brushG.current).on('.brush', null);
    };
  }, [width, x, grid.width, minSpan]);

  // Keep the brush in step with zoom changes made elsewhere (buttons, keys).
  useEffect(() => {
    if (!brushG.current || !brush.current) return;
    select(brushG.current).call(brush.current.move, zoom ? [x(zoom[0]), x(zoom[1])] : null);
  }, [zoom?.[0], zoom?.[1], x]);

  return (
    <div className="map-overview" style={{ marginLeft: left, width }}>
      <canvas ref={canvas} style={{ width, height: HEIGHT }} aria-hidden="true" />
      <svg width={width} height={HEIGHT} data-testid="neuron-brush" aria-label="Drag to zoom into a range of neurons">
        <g ref={brushG} />
      </svg>
      <span className="muted small">Drag across this strip to zoom into a range of neurons.</span>
    </div>
  );
}
