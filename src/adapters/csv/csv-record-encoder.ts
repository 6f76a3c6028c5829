import type { CsvOptions } from '../../domain/export-request.js';

/**
 * Encodes CSV records byte for byte as DuckDB's writer does with the export's options (`QUOTE '"'`,
 * `ESCAPE '"'`, `NULLSTR`, `FORCE_QUOTE *` for quote-all), so an engine that does not hand its rows to DuckDB's
 * writer still produces the same file. DuckDB's rule (checked against DuckDB 1.5, for every ASCII byte and every
 * column type; the export tests compare the two writers' bytes):
 * - a null is the null text, never quoted;
 * - a value is quoted when quote-all is on, when it equals the null text, or when it contains the delimiter, a
 *   double quote, LF, CR or `#` (DuckDB's comment character, quoted so that its reader keeps the record);
 * - a double quote inside a quoted value is doubled; records end in LF.
 * Header names follow the same rule.
 */
export class CsvRecordEncoder {
  private readonly delimiter: string;
  private readonly nullText: string;
  private readonly quoteAll: boolean;

  constructor(csv: Pick<CsvOptions, 'delimiter' | 'nullText' | 'quoteAll'>) {
    this.delimiter = csv.delimiter;
    this.nullText = csv.nullText;
    this.quoteAll = csv.quoteAll;
  }

  /** One record, with its LF. */
  encode(fields: readonly (string | null)[]): string {
    let out = '';
    for (let i = 0; i < fields.length; i++) {
      if (i > 0) out += this.delimiter;
      out += this.field(fields[i] ?? null);
    }
    return `${out}\n`;
  }

  private field(value: string | null): string {
    if (value === null) return this.nullText;
    if (this.quoteAll || value === this.nullText || SPECIAL.test(value) || value.includes(this.delimiter)) {
      return `"${value.replace(/"/g, '""')}"`;
    }
    return value;
  }
}

const SPECIAL = /[\n\r"#]/;
