import { IngestError } from '../../src/domain/errors';
import { compileTextPattern } from '../../src/domain/text-pattern';

describe('text log patterns for DuckDB', () => {
  it('rewrites JavaScript named groups to RE2 and lists every capturing group in order', () => {
    expect(compileTextPattern('^(?<ts>\\d+ \\d+) (\\w+) (?:x|y) (?P<msg>.*)$')).toEqual({
      re2: '^(?P<ts>\\d+ \\d+) (\\w+) (?:x|y) (?P<msg>.*)$',
      groups: ['ts', '_g2', 'msg'],
    });
  });

  it('does not count parentheses inside character classes or escaped ones', () => {
    expect(compileTextPattern('^\\((?<a>[()]+)\\) [^)](?<b>\\d)$').groups).toEqual(['a', 'b']);
  });

  it('refuses lookarounds and backreferences, which RE2 cannot run', () => {
    expect(() => compileTextPattern('(?<a>x)(?=y)')).toThrow(
      new IngestError(
        'bad_pattern',
        "text.pattern uses a lookaround, which DuckDB's regular expressions (RE2) do not support",
      ),
    );
    expect(() => compileTextPattern('(?<a>x)\\1')).toThrow(
      "text.pattern uses a backreference, which DuckDB's regular expressions (RE2) do not support",
    );
  });

  it('writes JavaScript \\u escapes as RE2 \\x{…}, inside classes too, and leaves an escaped backslash alone', () => {
    expect(compileTextPattern('^(?<a>\\u0041+) [\\u00e0-\\u00ff]+ \\uD83D\\uDE00 \\\\u0041$').re2).toBe(
      // The surrogate pair (how JavaScript writes an emoji) is its one code point.
      '^(?P<a>\\x{0041}+) [\\x{00e0}-\\x{00ff}]+ \\x{1F600} \\\\u0041$',
    );
    // A backspace in a class, which RE2 has no \b for.
    expect(compileTextPattern('^[\\b\\d]+$').re2).toBe('^[\\x{8}\\d]+$');
    expect(() => compileTextPattern('a\\uZZ')).toThrow(
      new IngestError('bad_pattern', 'text.pattern has a \\u escape that is not \\uXXXX'),
    );
    // Without the u flag JavaScript reads \u{41} as 41 letters u.
    expect(() => compileTextPattern('\\u{41}')).toThrow(
      'text.pattern has a \\u{…} escape: write the code point as \\uXXXX (or a surrogate pair)',
    );
    expect(() => compileTextPattern('\\uD83D')).toThrow(
      'text.pattern has a lone surrogate \\uD83D, which no UTF-8 text holds',
    );
    expect(() => compileTextPattern('\\cJ')).toThrow(
      "text.pattern uses a control-character escape (\\cX), which DuckDB's regular expressions (RE2) do not support",
    );
  });

  it('reads what JavaScript reads: [^] any character, [] none, and an escaped letter without a meaning as itself', () => {
    expect(compileTextPattern('^(?<a>[^]*) (?<b>\\d+)$')).toEqual({
      re2: '^(?P<a>[\\x{0}-\\x{10FFFF}]*) (?P<b>\\d+)$',
      groups: ['a', 'b'],
    });
    expect(compileTextPattern('a[]b').re2).toBe('a[^\\x{0}-\\x{10FFFF}]b');
    // \z is a z to JavaScript and the end of the text to RE2; \p is a p; in a class \B is a B.
    expect(compileTextPattern('^\\z\\p[\\B\\d]$').re2).toBe('^zp[B\\d]$');
    expect(() => compileTextPattern('[\\cJ]')).toThrow(
      "text.pattern uses a control-character escape (\\cX), which DuckDB's regular expressions (RE2) do not support",
    );
  });

  it("reads \\s and \\S as JavaScript does (Unicode spaces too), not as RE2's ASCII-only \\s", () => {
    const space = '\\s\\x{B}\\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}\\x{202F}\\x{205F}\\x{3000}\\x{FEFF}';
    expect(compileTextPattern('^(?<ts>\\S+)\\s+(?<msg>[^\\s].*)$').re2).toBe(
      `^(?P<ts>[^${space}]+)[${space}]+(?P<msg>[^${space}].*)$`,
    );
    expect(compileTextPattern('[\\S][\\s,]\\\\s').re2).toBe(`[^${space}][${space},]\\\\s`);
  });
});
