import { useMemo } from 'react';
import type { PredictResult } from '../../core/engine';
import type { TableSpec } from '../chart-export';
import { formatProb, visibleToken } from '../format';
import { slug } from '../knowledge';
import { ChartFrame } from './ChartFrame';

/** The top next tokens as a table with a horizontal bar per row (bar length = probability, full width = 1). */
export function TopTokens({ result, prompt }: { result: PredictResult; prompt: string }) {
  const title = result.model.arch === 'bert' ? `Word at [MASK] in “${prompt}”` : `Next token after “${prompt}”`;
  const table = useMemo<TableSpec>(
    () => ({
      columns: [
        { key: 'rank', label: '#', numeric: true },
        { key: 'token', label: 'Token' },
        { key: 'id', label: 'Token id', numeric: true },
        { key: 'probability', label: 'Probability', numeric: true },
      ],
      rows: result.top.map((t, i) => ({ rank: i + 1, token: visibleToken(t.text), id: t.id, probability: t.prob })),
    }),
    [result],
  );
  return (
    <ChartFrame
      title={title}
      name={`top-tokens-${slug(prompt)}`}
      testId="top-tokens-frame"
      figure={{ kind: 'bars', bars: { title, labelKey: 'token', valueKeys: ['probability'], format: formatProb } }}
      table={table}
      result={() => ({ prompt, ...result })}
    >
      <TokenBars result={result} />
    </ChartFrame>
  );
}

function TokenBars({ result }: { result: PredictResult }) {
  return (
    <table className="top-tokens" data-testid="top-tokens">
      <caption>{result.model.arch === 'bert' ? 'Most likely words at [MASK]' : 'Most likely next tokens'}</caption>
      <thead>
        <tr>
          <th scope="col" className="num">
            #
          </th>
          <th scope="col">Token</th>
          <th scope="col" className="num">
            Probability
          </th>
          <th scope="col" className="bar-col">
            <span className="visually-hidden">Bar</span>
          </th>
        </tr>
      </thead>
      <tbody>
        {result.top.map((t, i) => (
          <tr key={t.id} data-testid="top-token-row" data-prob={t.prob} data-token-id={t.id}>
            <td className="num rank">{i + 1}</td>
            <td>
              <code className="token" title={`${JSON.stringify(t.text)} (id ${t.id})`}>
                {visibleToken(t.text)}
              </code>
            </td>
            <td className="num">{formatProb(t.prob)}</td>
            <td className="bar-col" aria-hidden="true">
              <div className="bar-track">
                <div className="bar" style={{ width: `${Math.min(1, Math.max(0, t.prob)) * 100}%` }} />
              </div>
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
