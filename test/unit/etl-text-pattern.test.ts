import { IngestError } from '../../src/domain/errors';
import { compileTextPattern } from '../../src/domain/text-pattern';

describe('text log patterns for DuckDB', () => {
  it('rewrites JavaScript named groups to RE2 and lists every capturing group in order', () => {
    expect(compileTextPattern('^(?<ts>\\S+ \\S+) (\\w+) (?:x|y) (?P<msg>.*)$')).toEqual({
      re2: '^(?P<ts>\\S+ \\S+) (\\w+) (?:x|y) (?P<msg>.*)$',
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
    expect(compileTextPattern('^(?<a>\\u0041+) [\\u00e0-\\u00ff]+ \\u{1F600} \\\\u0041$').re2).toBe(
      '^(?P<a>\\x{0041}+) [\\x{00e0}-\\x{00ff}]+ \\x{1F600} \\\\u0041$',
    );
    expect(() => compileTextPattern('a\\uZZ')).toThrow(
      new IngestError(
        'bad_pattern',
        'text.pattern has a \\u escape that is not \\uXXXX or \\u{X…} (RE2 needs a code point)',
      ),
    );
    expect(() => compileTextPattern('\\cJ')).toThrow(
      "text.pattern uses a control-character escape (\\cX), which DuckDB's regular expressions (RE2) do not support",
    );
  });
});
