import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import {
  FAST_DATE_FORMATS,
  FAST_TIMESTAMP_FORMATS,
  dateCastSql,
  timestampCastSql,
} from '../../lambda/pipeline/temporal-casts.js';

let instance: DuckDBInstance;
let conn: DuckDBConnection;
beforeAll(async () => {
  instance = await DuckDBInstance.create(':memory:', { threads: '2' });
  conn = await instance.connect();
  await conn.run(`SET TimeZone = 'UTC'`);
  const list = (xs: string[]): string => `[${xs.map((x) => `'${x}'`).join(', ')}]`;
  // Field values at and beyond every limit: year 0000, month 00/13, day 00/31/32, hour 24/25, minute and second 60.
  await conn.run(`CREATE TABLE parts AS SELECT y, m, d, h, mi, s
    FROM unnest(${list(['0000', '0001', '1900', '1970', '2024', '9999'])}) a(y),
      unnest(${list(['00', '01', '02', '04', '12', '13', '19'])}) b(m),
      unnest(${list(['00', '01', '28', '29', '30', '31', '32', '39'])}) c(d),
      unnest(${list(['00', '09', '19', '20', '23', '24', '25', '29'])}) e(h),
      unnest(${list(['00', '59', '60'])}) f(mi),
      unnest(${list(['00', '59', '60'])}) g(s)`);
});
afterAll(() => {
  conn.closeSync();
  instance.closeSync();
});

/** Texts compared, values parsed, and texts where the cast and the reference disagree. */
async function differences(
  expr: string,
  reference: string,
  texts: string,
): Promise<{ n: number; parsed: number; diff: number }> {
  const rows = (
    await conn.runAndReadAll(
      `SELECT count(*)::BIGINT AS n, count(a)::BIGINT AS parsed,
         count(*) FILTER (WHERE a IS DISTINCT FROM b)::BIGINT AS diff
       FROM (SELECT ${expr} AS a, ${reference} AS b FROM (${texts}))`,
    )
  ).getRowObjectsJS();
  return { n: Number(rows[0]!['n']), parsed: Number(rows[0]!['parsed']), diff: Number(rows[0]!['diff']) };
}

// 6 years × 7 months × 8 days × 8 hours × 3 minutes × 3 seconds; of them 98 real dates (0000 and 2024 are leap
// years) × 5 real hours × 2 × 2 parse.
const TEXTS = 24192;
const VALID = 1960;

describe('timestamp and date casts', () => {
  it.each([...FAST_TIMESTAMP_FORMATS.keys()])('reads %s exactly as strptime does, over edge values', async (fmt) => {
    const sep = fmt.includes('T') ? 'T' : ' ';
    const zone = fmt.endsWith('Z') ? 'Z' : '';
    // 1234 is one digit too many for %g: nothing parses.
    const fractions = fmt.includes('%g')
      ? ['000', '5', '123', '1234']
      : fmt.includes('%f')
        ? ['000000', '123456']
        : [''];
    for (const fraction of fractions) {
      const text = `y || '-' || m || '-' || d || '${sep}' || h || ':' || mi || ':' || s || '${fraction ? `.${fraction}` : ''}${zone}'`;
      const result = await differences(
        timestampCastSql('f', [fmt]),
        `CAST(try_strptime(f, '${fmt}') AS TIMESTAMP)`,
        `SELECT ${text} AS f FROM parts`,
      );
      expect(result).toEqual({ n: TEXTS, parsed: fraction === '1234' ? 0 : VALID, diff: 0 });
      // With a time zone: strptime's wall time there, or (a trailing Z) strptime's value as it is.
      const reference = `CAST(try_strptime(f, '${fmt}') AS TIMESTAMP)`;
      const zoned = await differences(
        timestampCastSql('f', [fmt], 'America/New_York'),
        zone === 'Z' ? reference : `CAST(timezone('America/New_York', ${reference}) AS TIMESTAMP)`,
        `SELECT ${text} AS f FROM parts`,
      );
      expect(zoned).toEqual({ n: TEXTS, parsed: fraction === '1234' ? 0 : VALID, diff: 0 });
    }
  });

  it('reads %Y-%m-%d dates exactly as strptime does', async () => {
    expect([...FAST_DATE_FORMATS.keys()]).toEqual(['%Y-%m-%d']);
    const result = await differences(
      dateCastSql('f', ['%Y-%m-%d']),
      `CAST(try_strptime(f, '%Y-%m-%d') AS DATE)`,
      `SELECT DISTINCT y || '-' || m || '-' || d AS f FROM parts`,
    );
    expect(result).toEqual({ n: 336, parsed: 98, diff: 0 });
  });

  it('keeps the first-format-wins rule of a list, fast path or not', async () => {
    const formats = ['%Y-%m-%d %H:%M:%S', '%Y-%m-%dT%H:%M:%S.%gZ', '%d/%m/%Y %H:%M'];
    const texts = `SELECT unnest(['2024-03-01 10:00:00', '2024-03-01T10:00:00.250Z', '01/03/2024 10:00', '2024-03-01 24:00:00',
      '2024-02-30 10:00:00', 'x', NULL]) AS f`;
    const result = await differences(
      timestampCastSql('f', formats),
      `CAST(try_strptime(f, ['%Y-%m-%d %H:%M:%S', '%Y-%m-%dT%H:%M:%S.%gZ', '%d/%m/%Y %H:%M']) AS TIMESTAMP)`,
      texts,
    );
    expect(result).toEqual({ n: 7, parsed: 3, diff: 0 });
  });

  it('takes the plain cast only for formats before the first one it does not know', () => {
    // An unknown format first could read ISO-shaped text differently, and it would win: no fast path at all.
    expect(timestampCastSql('f', ['%Y-%d-%m %H:%M:%S', '%Y-%m-%d %H:%M:%S'])).toBe(
      `coalesce(CAST(try_strptime(f, '%Y-%d-%m %H:%M:%S') AS TIMESTAMP), CAST(try_strptime(f, '%Y-%m-%d %H:%M:%S') AS TIMESTAMP))`,
    );
    expect(timestampCastSql('f', ['%Y-%m-%d %H:%M:%S', '%d/%m/%Y'])).toContain(`f GLOB '`);
    expect(timestampCastSql('f', undefined)).toBe('CAST(TRY_CAST(f AS TIMESTAMPTZ) AS TIMESTAMP)');
    expect(dateCastSql('f', ['%d.%m.%Y'])).toBe(`CAST(try_strptime(f, '%d.%m.%Y') AS DATE)`);
  });

  it('refuses impossible dates when a format of the list has a zone offset, as without one', async () => {
    // DuckDB's list form rolled these over into the next month (2023-02-29 → 2023-03-01) once any format had %z.
    const formats = ['%Y-%m-%d %H:%M:%S', '%Y-%m-%dT%H:%M:%S%z', '%d/%m/%Y %H:%M'];
    const rows = (
      await conn.runAndReadAll(
        `SELECT f, CAST(${timestampCastSql('f', formats)} AS VARCHAR) AS t FROM (SELECT unnest([
          '2023-02-29 10:00:00', '2024-06-31 10:00:00', '2024-02-30T10:00:00+01:00', '29/02/2023 10:00',
          '2024-02-29 10:00:00', '2024-02-28T10:00:00+01:00', '2024-02-28T23:30:00-01:00', '29/02/2024 10:00']) AS f)`,
      )
    ).getRowObjectsJS();
    expect(Object.fromEntries(rows.map((r) => [r['f'], r['t']]))).toEqual({
      '2023-02-29 10:00:00': null,
      '2024-06-31 10:00:00': null,
      '2024-02-30T10:00:00+01:00': null,
      '29/02/2023 10:00': null,
      '2024-02-29 10:00:00': '2024-02-29 10:00:00',
      '2024-02-28T10:00:00+01:00': '2024-02-28 09:00:00',
      '2024-02-28T23:30:00-01:00': '2024-02-29 00:30:00',
      '29/02/2024 10:00': '2024-02-29 10:00:00',
    });
  });

  it("reads text without an offset as a wall time in the column's time zone, and text with one by its offset", async () => {
    const read = async (formats: string[] | undefined, texts: string[]): Promise<Record<string, unknown>> => {
      const rows = (
        await conn.runAndReadAll(
          `SELECT f, CAST(${timestampCastSql('f', formats, 'Europe/Rome')} AS VARCHAR) AS t
           FROM (SELECT unnest([${texts.map((t) => `'${t}'`).join(', ')}]) AS f)`,
        )
      ).getRowObjectsJS();
      return Object.fromEntries(rows.map((r) => [r['f'], r['t']]));
    };
    // Fast-path formats (naive and Z), a strptime-only one, and one with %z.
    const formats = ['%Y-%m-%d %H:%M:%S', '%Y-%m-%dT%H:%M:%SZ', '%d/%m/%Y %H:%M', '%Y-%m-%dT%H:%M:%S%z'];
    await expect(
      read(formats, [
        '2024-07-01 12:00:00',
        '2024-01-15 12:00:00',
        '2024-07-01T12:00:00Z',
        '01/07/2024 12:00',
        '2024-07-01T12:00:00+05:00',
        '2024-07-01 00:30:00',
        '2024-03-31 02:30:00',
        '2024-10-27 02:30:00',
        '2023-02-29 10:00:00',
      ]),
    ).resolves.toEqual({
      // Summer (UTC+2) and winter (UTC+1) wall times in Rome.
      '2024-07-01 12:00:00': '2024-07-01 10:00:00',
      '2024-01-15 12:00:00': '2024-01-15 11:00:00',
      // A trailing Z and an offset keep their own.
      '2024-07-01T12:00:00Z': '2024-07-01 12:00:00',
      '01/07/2024 12:00': '2024-07-01 10:00:00',
      '2024-07-01T12:00:00+05:00': '2024-07-01 07:00:00',
      // Past midnight in Rome is the evening before in UTC (the partition day follows the UTC value).
      '2024-07-01 00:30:00': '2024-06-30 22:30:00',
      // A time the spring change skips is read past it (03:30 CEST); one the autumn change repeats as the second.
      '2024-03-31 02:30:00': '2024-03-31 01:30:00',
      '2024-10-27 02:30:00': '2024-10-27 01:30:00',
      '2023-02-29 10:00:00': null,
    });
    // Without formats: ISO text, its offset when it has one.
    await expect(
      read(undefined, [
        '2024-07-01T12:00:00',
        '2024-07-01 12:00',
        '2024-07-01T12:00:00Z',
        '2024-07-01T12:00:00.5-03:00',
        '2024-07-01',
        '2024-07-01 12:00:00 UTC',
        '2024-07-01 12:00:00 Europe/Paris',
        '2024-07-01 12:00:00.250',
      ]),
    ).resolves.toEqual({
      '2024-07-01T12:00:00': '2024-07-01 10:00:00',
      '2024-07-01 12:00': '2024-07-01 10:00:00',
      '2024-07-01T12:00:00Z': '2024-07-01 12:00:00',
      '2024-07-01T12:00:00.5-03:00': '2024-07-01 15:00:00.5',
      '2024-07-01': '2024-06-30 22:00:00',
      // A zone name after the time is the text's own (a TIMESTAMP cast dropped it, and the column's zone shifted it).
      '2024-07-01 12:00:00 UTC': '2024-07-01 12:00:00',
      '2024-07-01 12:00:00 Europe/Paris': '2024-07-01 10:00:00',
      '2024-07-01 12:00:00.250': '2024-07-01 10:00:00.25',
    });
    // A format ending in a literal UTC (or GMT, or Z) is UTC text, whatever the column's zone.
    await expect(
      read(['%Y-%m-%d %H:%M:%S UTC', '%Y-%m-%d %H:%M:%S'], ['2024-07-01 12:00:00 UTC', '2024-07-01 12:00:00']),
    ).resolves.toEqual({
      '2024-07-01 12:00:00 UTC': '2024-07-01 12:00:00',
      '2024-07-01 12:00:00': '2024-07-01 10:00:00',
    });
  });
});
