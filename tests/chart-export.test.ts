import { describe, expect, it } from 'vitest';
import { barFigureSvg, escapeXml, imageFigureSvg, resultToJson, sortRows, svgSize, tableToCsv, type TableSpec } from '../src/app/chart-export';

const table: TableSpec = {
  columns: [
    { key: 'token', label: 'Token' },
    { key: 'p', label: 'Probability', numeric: true },
  ],
  rows: [
    { token: 'Paris', p: 0.9 },
    { token: '<script>alert(1)</script>', p: NaN },
    { token: 'Lyon, "the" city', p: 0.05 },
    { token: 'Berlin', p: 0.9 },
  ],
};

describe('table twin data', () => {
  it('sorts numbers by value with NaN last, keeping ties in their order', () => {
    expect(sortRows(table.rows, { key: 'p', desc: true }, true).map((r) => r.token)).toEqual(['Paris', 'Berlin', 'Lyon, "the" city', '<script>alert(1)</script>']);
    expect(sortRows(table.rows, { key: 'p', desc: false }, true).map((r) => r.token)).toEqual(['Lyon, "the" city', 'Paris', 'Berlin', '<script>alert(1)</script>']);
    expect(sortRows(table.rows, { key: 'token', desc: false }, false).map((r) => r.token)[0]).toBe('<script>alert(1)</script>');
    expect(sortRows(table.rows, undefined, false)).toBe(table.rows);
  });

  it('writes RFC 4180 CSV with the column keys as header and quoted fields', () => {
    expect(tableToCsv(table)).toBe('token,p\r\nParis,0.9\r\n<script>alert(1)</script>,\r\n"Lyon, ""the"" city",0.05\r\nBerlin,0.9\r\n');
  });

  it('writes typed arrays as plain JSON arrays', () => {
    expect(JSON.parse(resultToJson({ scores: new Float32Array([1, 2.5]) }))).toEqual({ scores: [1, 2.5] });
  });
});

describe('figures', () => {
  it('escapes every label in the SVG and draws one bar per value', () => {
    const svg = barFigureSvg(table, { title: 'Top <b>tokens</b>', labelKey: 'token', valueKeys: ['p'] });
    expect(svg).not.toContain('<script>');
    expect(svg).not.toContain('<b>');
    expect(svg).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(svg.match(/<rect [^>]*fill='#0072B2'/g)).toHaveLength(1 + table.rows.length); // legend swatch + bars
    expect(svgSize(svg).width).toBeGreaterThan(0);
  });

  it('draws negative values left of a centred zero line', () => {
    const signed: TableSpec = { columns: table.columns, rows: [{ token: 'a', p: -2 }, { token: 'b', p: 1 }] };
    const svg = barFigureSvg(signed, { title: 't', labelKey: 'token', valueKeys: ['p'] });
    const bars = [...svg.matchAll(/<rect x='([\d.]+)' y='\d+' width='([\d.]+)' height='12'/g)].map((m) => [Number(m[1]), Number(m[2])]);
    const zero = Number(/<line x1='([\d.]+)'/.exec(svg)![1]);
    expect(bars[0][0] + bars[0][1]).toBeCloseTo(zero);
    expect(bars[1][0]).toBeCloseTo(zero);
    expect(bars[0][1]).toBeCloseTo(2 * bars[1][1]);
  });

  it('wraps a canvas image with an escaped title and refuses anything but a PNG data URL', () => {
    const svg = imageFigureSvg('data:image/png;base64,AAAA', 300, 100, 'map & "more"', 'caption <i>');
    expect(svg).toContain('map &amp; &quot;more&quot;');
    expect(svg).toContain('caption &lt;i&gt;');
    expect(svgSize(svg)).toEqual({ width: 300, height: 148 });
    expect(() => imageFigureSvg('javascript:alert(1)', 1, 1, '', '')).toThrow(/PNG/);
    expect(escapeXml(`'`)).toBe('&apos;');
  });
});
