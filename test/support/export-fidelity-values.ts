/** Fixture values per column for the export fidelity suites (both engines); row i takes value i modulo the list's length. Doubles and timestamps as SQL text. */
export const STRINGS: (string | null)[] = [
  'plain',
  'comma, inside',
  'quote " inside',
  'line\nbreak',
  'crlf\r\nbreak',
  '',
  null,
  'é日本語 🚀',
  '=SUM(A1:A2)',
  '+1',
  '-5',
  '@cmd',
  '\tTab',
  '\rCR',
  ' leading space',
  'NULL',
];
export const INTS = [0, -5, 2147483647, -2147483648, null, 42];
export const BIGINTS = ['9007199254740993', '-9223372036854775808', '9223372036854775807', '0', null];
export const DOUBLES = ['nan', '-5.5', '-0.0', '1e20', '5e-324', '0.1', 'inf', '-inf', null, '123456789.123456789'];
export const BOOLEANS = [true, false, null];
export const TIMESTAMPS = ['2024-03-01 12:34:56.789123', '1970-01-01 00:00:00', '1900-01-01 00:00:00.000001', null];
export const DATES = ['2024-02-29', '0001-01-01', '9999-12-31', null];
export const DECIMALS = ['12.3400', '-99999999999999.9999', '0', '0.0001', null];
export const ZONED = ['2024-03-01 12:00:00+02', null, '2024-06-01 00:00:00-05:30'];
