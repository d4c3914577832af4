/**
 * RFC 4180 CSV: comma-separated fields, records ended by CRLF (LF and CR alone are
 * accepted too), fields with commas, quotes or line breaks wrapped in double quotes, and
 * a quote inside a quoted field written as two quotes.
 */
import { FACT_LIMITS, factError } from './validate';

export interface CsvRecord {
  fields: string[];
  /** 1-based record number in the file (the header is row 1; blank lines count as rows). */
  row: number;
  /** 1-based line on which the record starts (differs from `row` after multi-line fields). */
  line: number;
}

/** 'CSV row 3' or 'CSV row 3 (line 5)' when a multi-line field came before. */
export function csvLocation(record: Pick<CsvRecord, 'row' | 'line'>): string {
  return record.line === record.row ? `CSV row ${record.row}` : `CSV row ${record.row} (line ${record.line})`;
}

export function parseCsv(text: string, options: { maxRows?: number } = {}): CsvRecord[] {
  const maxRows = options.maxRows ?? FACT_LIMITS.maxRecords;
  const records: CsvRecord[] = [];
  const n = text.length;
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  let line = 1;
  while (i < n) {
    const rec: CsvRecord = { fields: [], row: records.length + 1, line };
    if (rec.row > maxRows) {
      throw factError('facts-too-large', `The CSV file has more than ${maxRows.toLocaleString('en-US')} rows; the limit is ${maxRows.toLocaleString('en-US')}.`);
    }
    // One record: fields until an unquoted line break or the end.
    for (;;) {
      let field = '';
      if (text[i] === '"') {
        const openLine = line;
        i++;
        for (;;) {
          if (i >= n) {
            throw factError('facts-bad-csv', `${csvLocation(rec)}: a quoted field opened on line ${openLine} is never closed (missing closing ").`);
          }
          const c = text[i];
          if (c === '"') {
            if (text[i + 1] === '"') {
              field += '"';
              i += 2;
              continue;
            }
            i++;
            break;
          }
          if (c === '\n' || (c === '\r' && text[i + 1] !== '\n')) line++;
          field += c;
          i++;
        }
        if (i < n && text[i] !== ',' && text[i] !== '\n' && text[i] !== '\r') {
          throw factError(
            'facts-bad-csv',
            `${csvLocation(rec)}, field ${rec.fields.length + 1}: unexpected text after a closing quote; a quote inside a quoted field must be doubled ("").`,
          );
        }
      } else {
        const start = i;
        while (i < n) {
          const c = text[i];
          if (c === ',' || c === '\n' || c === '\r') break;
          if (c === '"') {
            throw factError(
              'facts-bad-csv',
              `${csvLocation(rec)}, field ${rec.fields.length + 1}: a double quote inside an unquoted field; wrap the field in double quotes and write the quote as "".`,
            );
          }
          i++;
        }
        field = text.slice(start, i);
      }
      rec.fields.push(field);
      if (i >= n) break;
      const c = text[i];
      if (c === ',') {
        i++;
        if (i >= n) {
          rec.fields.push('');
          break;
        }
        continue;
      }
      // Line break ends the record.
      i += c === '\r' && text[i + 1] === '\n' ? 2 : 1;
      line++;
      break;
    }
    records.push(rec);
  }
  return records;
}

function quoteField(value: string): string {
  return /[",\r\n]|^\s|\s$/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

/** Formats rows as RFC 4180 CSV (CRLF line ends, a final CRLF). */
export function formatCsv(rows: string[][]): string {
  return rows.map((r) => r.map(quoteField).join(',') + '\r\n').join('');
}
