import { axisBottom, scaleLinear, select } from 'd3';
import { useEffect, useMemo, useRef, useState, type KeyboardEvent, type MouseEvent } from 'react';
import type { Neuron, RefinedNeuron } from '../../core/knowledge/refine';
import type { CoarseCounter, NeuronGrid } from '../knowledge';
import { bucketPick, columnRange, drawHeat } from './map-draw';
import { NeuronOverview } from './NeuronOverview';

const MARGIN = { left: 40, right: 8, top: 4, bottom: 24 };
const MIN_SPAN = 16;

export interface NeuronMapProps {
  grid: NeuronGrid;
  refined: RefinedNeuron[];
  selected?: Neuron;
  zoom?: [number, number];
  countOf: CoarseCounter;
  prompts: number;
  valueLabel: string;
  onSelect(neuron: Neuron): void;
  onZoom(zoom: [number, number] | undefined): void;
}

interface Hover {
  x: number;
  y: number;
  layer: number;
  index: number;
  value: number;
}

/** The layer × neuron heatmap: canvas cells, D3 axes, hover values, click and arrow-key selection. */
export function NeuronMap({ grid, refined, selected, zoom, countOf, prompts, valueLabel, onSelect, onZoom }: NeuronMapProps) {
  const wrap = useRef<HTMLDivElement>(null);
  const canvas = useRef<HTMLCanvasElement>(null);
  const axis = useRef<SVGGElement>(null);
  const [width, setWidth] = useState(800);
  const [hover, setHover] = useState<Hover>();
  const [rendered, setRendered] = useState(0);
  const L = grid.rows.length;
  const rowH = Math.max(12, Math.min(32, Math.floor(264 / L)));
  const plotW = Math.max(80, width - MARGIN.left - MARGIN.right);
  const plotH = L * rowH;
  const domain: [number, number] = zoom ?? [0, grid.width];
  const span = domain[1] - domain[0];
  const x = useMemo(() => scaleLinear().domain(domain).range([0, plotW]), [domain[0], domain[1], plotW]);
  const refinedInView = useMemo(() => refined.filter((n) => n.index >= domain[0] && n.index < domain[1]).slice(0, 2000), [refined, domain[0], domain[1]]);

  useEffect(() => {
    const el = wrap.current;
    if (!el) return;
    const observer = new ResizeObserver(([entry]) => setWidth(Math.floor(entry.contentRect.width)));
    observer.observe(el);
    return () => observer.disconnect();
  }, []);

  useEffect(() => {
    const el = canvas.current;
    if (!el) return;
    const dpr = Math.min(2, window.devicePixelRatio || 1);
    const columns = Math.round(plotW * dpr);
    const rowPx = Math.max(1, Math.round(rowH * dpr));
    el.width = columns;
    el.height = rowPx * L;
    const ctx = el.getContext('2d');
    if (!ctx) return;
    drawHeat(ctx, grid.rows, grid.maxAbs, domain, columns, rowPx);
    const cell = (layer: number, index: number) => {
      const k = grid.layers.indexOf(layer);
      if (k < 0) return undefined;
      const x0 = ((index - domain[0]) / span) * columns;
      const w = columns / span;
      return { x0, w, y0: (L - 1 - k) * rowPx, h: rowPx };
    };
    ctx.lineJoin = 'miter';
    for (const n of refinedInView) {
      const c = cell(n.layer, n.index);
      if (!c) continue;
      const w = Math.max(c.w, 3 * dpr);
      const xc = c.x0 + c.w / 2;
      ctx.lineWidth = 1.5 * dpr;
      ctx.strokeStyle = '#000';
      ctx.strokeRect(xc - w / 2, c.y0 + dpr, w, c.h - 2 * dpr);
      // A small tick above the cell, so marks stay visible on dark cells too.
      ctx.fillStyle = '#fff';
      ctx.fillRect(xc - dpr, c.y0 + dpr, 2 * dpr, 3 * dpr);
    }
    if (selected) {
      const c = cell(selected[0], selected[1]);
      if (c && selected[1] >= domain[0] && selected[1] < domain[1]) {
        const w = Math.max(c.w, 7 * dpr);
        const xc = c.x0 + c.w / 2;
        ctx.lineWidth = 4 * dpr;
        ctx.strokeStyle = '#fff';
        ctx.strokeRect(xc - w / 2, c.y0 + 2 * dpr, w, c.h - 4 * dpr);
        ctx.lineWidth = 2 * dpr;
        ctx.strokeStyle = '#000';
        ctx.strokeRect(xc - w / 2, c.y0 + 2 * dpr, w, c.h - 4 * dpr);
      }
    }
    setRendered((r) => r + 1);
  }, [grid, domain[0], domain[1], plotW, rowH, L, refinedInView, selected]);

  useEffect(() => {
    if (!axis.current) return;
    const ticks = Math.max(2, Math.floor(plotW / 80));
    select(axis.current).call(axisBottom(x).ticks(ticks).tickFormat((d) => String(Math.round(Number(d)))));
  }, [x, plotW]);

  const at = (e: MouseEvent<HTMLCanvasElement>): Hover | undefined => {
    const rect = e.currentTarget.getBoundingClientRect();
    const px = e.clientX - rect.left;
    const py = e.clientY - rect.top;
    const k = L - 1 - Math.floor(py / rowH);
    if (k < 0 || k >= L || px < 0 || px >= plotW) return undefined;
    const [lo, hi] = columnRange(Math.floor(px), Math.round(plotW), domain);
    const index = bucketPick(grid.rows[k], lo, hi);
    return { x: px, y: py, layer: grid.layers[k], index, value: grid.rows[k][index] };
  };

  const ensureVisible = (index: number) => {
    if (index >= domain[0] && index < domain[1]) return;
    const from = Math.max(0, Math.min(grid.width - span, index - Math.floor(span / 2)));
    onZoom(span >= grid.width ? undefined : [from, from + span]);
  };

  const zoomBy = (factor: number) => {
    const center = selected?.[1] ?? (domain[0] + domain[1]) / 2;
    const next = Math.max(MIN_SPAN, Math.min(grid.width, Math.round(span * factor)));
    if (next >= grid.width) return onZoom(undefined);
    const from = Math.max(0, Math.min(grid.width - next, Math.round(center - next / 2)));
    onZoom([from, from + next]);
  };

  const onKeyDown = (e: KeyboardEvent<HTMLDivElement>) => {
    const start: Neuron = selected ?? (refined[0] ? [refined[0].layer, refined[0].index] : [grid.layers[L - 1], domain[0]]);
    let k = Math.max(0, grid.layers.indexOf(start[0]));
    let index = start[1];
    const step = e.shiftKey ? 10 : 1;
    switch (e.key) {
      case 'ArrowLeft': index -= step; break;
      case 'ArrowRight': index += step; break;
      case 'ArrowUp': k += 1; break;
      case 'ArrowDown': k -= 1; break;
      case 'PageUp': index -= Math.max(1, Math.round(span / 10)); break;
      case 'PageDown': index += Math.max(1, Math.round(span / 10)); break;
      case 'Home': index = 0; break;
      case 'End': index = grid.width - 1; break;
      case '+': case '=': zoomBy(0.5); e.preventDefault(); return;
      case '-': zoomBy(2); e.preventDefault(); return;
      case '0': onZoom(undefined); e.preventDefault(); return;
      default: return;
    }
    e.preventDefault();
    k = Math.max(0, Math.min(L - 1, k));
    index = Math.max(0, Math.min(grid.width - 1, index));
    onSelect([grid.layers[k], index]);
    ensureVisible(index);
  };

  const selectedValue = selected ? grid.rows[grid.layers.indexOf(selected[0])]?.[selected[1]] : undefined;

  return (
    <div className="neuron-map" ref={wrap} data-testid="neuron-map" data-layers={L} data-width={grid.width} data-rendered={rendered} data-zoom={domain.join('-')}>
      <div className="map-toolbar">
        <span className="muted small">
          Neurons {domain[0]}–{domain[1] - 1} of {grid.width}
        </span>
        <button type="button" onClick={() => zoomBy(0.5)} disabled={span <= MIN_SPAN} data-testid="zoom-in">Zoom in</button>
        <button type="button" onClick={() => zoomBy(2)} disabled={!zoom} data-testid="zoom-out">Zoom out</button>
        <button type="button" onClick={() => onZoom(undefined)} disabled={!zoom} data-testid="zoom-reset">All neurons</button>
      </div>
      <div
        className="map-frame"
        tabIndex={0}
        role="application"
        aria-roledescription="neuron map"
        aria-label={`Layer by neuron map of ${valueLabel}. Arrow keys move the selected neuron (Shift: 10 at a time), plus and minus zoom, 0 shows all neurons.`}
        data-testid="neuron-map-frame"
        onKeyDown={onKeyDown}
        style={{ paddingLeft: MARGIN.left, paddingRight: MARGIN.right, paddingTop: MARGIN.top }}
      >
        <div className="map-layers" style={{ width: MARGIN.left, top: MARGIN.top }} aria-hidden="true">
          {grid.layers.map((l, k) => (
            <div key={l} style={{ top: (L - 1 - k) * rowH, height: rowH, lineHeight: `${rowH}px` }}>
              L{l}
            </div>
          ))}
        </div>
        <canvas
          ref={canvas}
          data-testid="neuron-map-canvas"
          data-chart-canvas
          style={{ width: plotW, height: plotH }}
          onMouseMove={(e) => setHover(at(e))}
          onMouseLeave={() => setHover(undefined)}
          onClick={(e) => {
            const h = at(e);
            if (h) onSelect([h.layer, h.index]);
          }}
        />
        <svg width={plotW} height={MARGIN.bottom} className="map-axis" aria-hidden="true">
          <g ref={axis} />
        </svg>
        {hover && (
          <div className="map-tooltip" data-testid="map-tooltip" role="tooltip" style={{ left: Math.min(MARGIN.left + hover.x + 12, width - 190), top: MARGIN.top + hover.y + 14 }}>
            <strong>
              L{hover.layer} · #{hover.index}
            </strong>
            <br />
            {valueLabel}: {fmt(hover.value)}
            <br />
            coarse in {countOf(hover.layer, hover.index)} of {prompts} prompt{prompts === 1 ? '' : 's'}
            {refined.some((n) => n.layer === hover.layer && n.index === hover.index) && (
              <>
                <br />
                <span>knowledge neuron ■</span>
              </>
            )}
          </div>
        )}
      </div>
      <NeuronOverview grid={grid} zoom={zoom} width={plotW} left={MARGIN.left} onZoom={onZoom} minSpan={MIN_SPAN} />
      <p className="visually-hidden" aria-live="polite" data-testid="map-selection">
        {selected ? `Selected layer ${selected[0]}, neuron ${selected[1]}: ${valueLabel} ${fmt(selectedValue ?? NaN)}, coarse in ${countOf(selected[0], selected[1])} of ${prompts} prompts.` : 'No neuron selected.'}
      </p>
    </div>
  );
}

export function fmt(v: number): string {
  if (!Number.isFinite(v)) return '–';
  if (v === 0) return '0';
  const a = Math.abs(v);
  return a >= 0.01 && a < 1000 ? v.toFixed(a >= 1 ? 2 : 4) : v.toExponential(2);
}
