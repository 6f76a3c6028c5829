/**
 * Reads Athena's CSV query results as Athena documents and writes them: a header row, then one record per row;
 * fields separated by commas, records by LF; every value in double quotes, a double quote inside doubled, line
 * breaks kept inside the quotes; a NULL as an empty field without quotes. So an empty unquoted field is null and
 * `""` is the empty string. An unquoted non-empty field (which Athena does not write) is read as text; a CR before
 * a record's LF is dropped. Anything else (text after a closing quote, a quote left open) is an error that names
 * the record number, never the content.
 */
export async function* parseAthenaCsv(
  source: AsyncIterable<Buffer | string> | Iterable<Buffer | string>,
): AsyncGenerator<(string | null)[]> {
  const parser = new AthenaCsvParser();
  for await (const chunk of source) {
    yield* parser.push(typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk);
  }
  yield* parser.end();
}

const QUOTE = 0x22;
const COMMA = 0x2c;
const LF = 0x0a;
const CR = 0x0d;

const State = {
  FieldStart: 0,
  Quoted: 1,
  /** Just read a quote inside a quoted field: a doubled quote or the closing one. */
  QuoteInQuoted: 2,
  Unquoted: 3,
} as const;
type State = (typeof State)[keyof typeof State];

/** Push-based state machine; fields are collected as byte slices and decoded once complete (UTF-8 safe). */
export class AthenaCsvParser {
  private state: State = State.FieldStart;
  private parts: Buffer[] = [];
  private quoted = false;
  private record: (string | null)[] = [];
  private records = 0;

  *push(chunk: Buffer): Generator<(string | null)[]> {
    const len = chunk.length;
    let i = 0;
    while (i < len) {
      switch (this.state) {
        case State.FieldStart: {
          const b = chunk[i]!;
          if (b === QUOTE) {
            this.quoted = true;
            this.state = State.Quoted;
            i += 1;
          } else if (b === COMMA) {
            this.record.push(null);
            i += 1;
          } else if (b === LF) {
            this.record.push(null);
            yield this.endRecord();
            i += 1;
          } else {
            this.quoted = false;
            this.state = State.Unquoted;
          }
          break;
        }
        case State.Quoted: {
          const close = chunk.indexOf(QUOTE, i);
          if (close < 0) {
            this.parts.push(chunk.subarray(i));
            i = len;
          } else {
            if (close > i) this.parts.push(chunk.subarray(i, close));
            this.state = State.QuoteInQuoted;
            i = close + 1;
          }
          break;
        }
        case State.QuoteInQuoted: {
          const b = chunk[i]!;
          if (b === QUOTE) {
            this.parts.push(QUOTE_BYTE);
            this.state = State.Quoted;
            i += 1;
          } else if (b === COMMA) {
            this.endField();
            i += 1;
          } else if (b === LF) {
            this.endField();
            yield this.endRecord();
            i += 1;
          } else if (b === CR && (i + 1 >= len || chunk[i + 1] === LF)) {
            // CRLF record end; a CR at the very end of a chunk is taken as one (Athena writes LF only).
            i += 1;
          } else {
            throw new MalformedResultError(`text after a closing quote in record ${this.records + 1}`);
          }
          break;
        }
        case State.Unquoted: {
          const comma = chunk.indexOf(COMMA, i);
          const lf = chunk.indexOf(LF, i);
          const stop = comma < 0 ? lf : lf < 0 ? comma : Math.min(comma, lf);
          if (stop < 0) {
            this.parts.push(chunk.subarray(i));
            i = len;
            break;
          }
          if (stop > i) this.parts.push(chunk.subarray(i, stop));
          if (chunk[stop] === LF) this.dropTrailingCr();
          this.endField();
          if (chunk[stop] === LF) yield this.endRecord();
          i = stop + 1;
          break;
        }
      }
    }
  }

  /** The last record when the input does not end with LF; throws when a quote is left open. */
  *end(): Generator<(string | null)[]> {
    if (this.state === State.Quoted) {
      throw new MalformedResultError(`a quoted field of record ${this.records + 1} is not closed`);
    }
    if (this.state === State.FieldStart && this.record.length === 0) return;
    if (this.state === State.FieldStart) this.record.push(null);
    else {
      if (this.state === State.Unquoted) this.dropTrailingCr();
      this.endField();
    }
    yield this.endRecord();
  }

  private endField(): void {
    const text = this.parts.length === 1 ? this.parts[0]!.toString('utf8') : Buffer.concat(this.parts).toString('utf8');
    this.record.push(text === '' && !this.quoted ? null : text);
    this.parts = [];
    this.quoted = false;
    this.state = State.FieldStart;
  }

  private endRecord(): (string | null)[] {
    const record = this.record;
    this.record = [];
    this.records += 1;
    this.state = State.FieldStart;
    return record;
  }

  private dropTrailingCr(): void {
    const last = this.parts[this.parts.length - 1];
    if (last !== undefined && last.length > 0 && last[last.length - 1] === CR) {
      this.parts[this.parts.length - 1] = last.subarray(0, last.length - 1);
    }
  }
}

const QUOTE_BYTE = Buffer.from([QUOTE]);

/** Athena's result file is not CSV as Athena writes it; the message names the record, never its content. */
export class MalformedResultError extends Error {
  constructor(detail: string) {
    super(`malformed Athena CSV result: ${detail}`);
    this.name = 'MalformedResultError';
  }
}
