import { IngestError } from './errors.js';

/** Letters JavaScript (without the `u` flag) gives a meaning after a backslash; any other escaped letter is itself. */
const ESCAPES = 'bBdDsSwWfnrtvxuck';
/** The same inside a class, where `\b` is a backspace and `\B` a letter B. */
const CLASS_ESCAPES = 'bdDsSwWfnrtvxuc';

/**
 * JavaScript's `\s` (its WhiteSpace and LineTerminator characters) as the members of an RE2 class: RE2's own `\s` is
 * ASCII only (tab, newline, form feed, carriage return, space), so a no-break space after a timestamp matched a
 * pattern's `\s+` in JavaScript, where its author tried it, and not in the ETL.
 */
const JS_SPACE = '\\s\\x{B}\\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}\\x{202F}\\x{205F}\\x{3000}\\x{FEFF}';

/** A text-log pattern translated for DuckDB: RE2 syntax plus the name of every capturing group, in order. */
export interface TextPattern {
  /** The pattern in RE2 syntax (`(?<name>` becomes `(?P<name>`). */
  re2: string;
  /** One entry per capturing group, in group order; unnamed groups are called `_g<n>` (n from 1). */
  groups: string[];
}

/**
 * Translates a definition's `text.pattern` (JavaScript syntax, validated at load) for DuckDB's
 * `regexp_extract(line, pattern, [names])`, which labels capture groups by position. Lookarounds and
 * backreferences have no RE2 equivalent and are refused with a clear error instead of failing inside a query.
 */
export function compileTextPattern(source: string): TextPattern {
  const pattern = unicodeEscapesForRe2(source);
  const groups: string[] = [];
  let out = '';
  let i = 0;
  const unsupported = (what: string): never => {
    throw new IngestError(
      'bad_pattern',
      `text.pattern uses ${what}, which DuckDB's regular expressions (RE2) do not support`,
    );
  };
  while (i < pattern.length) {
    const ch = pattern[i]!;
    if (ch === '\\') {
      const next = pattern[i + 1] ?? '';
      if (/[1-9]/.test(next) || next === 'k') unsupported('a backreference');
      if (next === 'c') unsupported('a control-character escape (\\cX)');
      out += next === 's' ? `[${JS_SPACE}]` : next === 'S' ? `[^${JS_SPACE}]` : ch + next;
      i += 2;
      continue;
    }
    if (ch === '[') {
      // A character class: copy it whole so a `(` inside is not taken for a group. As in JavaScript, a `]` right
      // after `[` or `[^` ends it: `[]` matches nothing and `[^]` any character, which RE2 writes otherwise.
      let j = i + 1;
      if (pattern[j] === '^') j++;
      while (j < pattern.length && pattern[j] !== ']') j += pattern[j] === '\\' ? 2 : 1;
      const cls = pattern.slice(i, j + 1);
      if (cls === '[]' || cls === '[^]') {
        out += cls === '[]' ? '[^\\x{0}-\\x{10FFFF}]' : '[\\x{0}-\\x{10FFFF}]';
      } else if (cls === '[\\S]') {
        out += `[^${JS_SPACE}]`;
      } else {
        // `\S` among other members keeps RE2's (ASCII) meaning: a class cannot hold the complement of a set.
        out += cls.replace(/\\([^])/g, (escape, c: string) => {
          if (c === 's') return JS_SPACE;
          // `[\b]` is a backspace in JavaScript; RE2 refuses `\b` in a class, and so `\B` (a B to JavaScript).
          if (c === 'b') return '\\x{8}';
          if (c === 'c') unsupported('a control-character escape (\\cX)');
          return /[A-Za-z]/.test(c) && !CLASS_ESCAPES.includes(c) ? c : escape;
        });
      }
      i = j + 1;
      continue;
    }
    if (ch === '(') {
      const rest = pattern.slice(i);
      if (rest.startsWith('(?=') || rest.startsWith('(?!') || rest.startsWith('(?<=') || rest.startsWith('(?<!')) {
        unsupported('a lookaround');
      }
      const named = /^\(\?P?<([A-Za-z_][A-Za-z0-9_]*)>/.exec(rest);
      if (named) {
        groups.push(named[1]!);
        out += `(?P<${named[1]!}>`;
        i += named[0].length;
        continue;
      }
      if (!rest.startsWith('(?')) groups.push(`_g${groups.length + 1}`);
      out += ch;
      i++;
      continue;
    }
    out += ch;
    i++;
  }
  return { re2: out, groups };
}

/**
 * JavaScript's `\uXXXX` as RE2's `\x{…}`, in classes too (RE2 refuses `\u`: every file then failed as "internal"); a
 * surrogate pair (`\uD83D\uDE00`, how JavaScript writes an emoji) becomes its one code point, which RE2 matches in
 * UTF-8 text. Other escapes, `\\u` among them, are left as they are.
 */
function unicodeEscapesForRe2(pattern: string): string {
  const refuse = (why: string): never => {
    throw new IngestError('bad_pattern', `text.pattern has ${why}`);
  };
  return pattern.replace(
    /\\(?:u([dD][89abAB][0-9A-Fa-f]{2})\\u([dD][c-fC-F][0-9A-Fa-f]{2})|u([0-9A-Fa-f]{4})|(u\{)|(u)|([^]))/g,
    (escape, high?: string, low?: string, four?: string, braced?: string, bare?: string) => {
      if (high !== undefined && low !== undefined) {
        const code = 0x10000 + ((parseInt(high, 16) - 0xd800) << 10) + (parseInt(low, 16) - 0xdc00);
        return `\\x{${code.toString(16).toUpperCase()}}`;
      }
      if (four !== undefined) {
        const code = parseInt(four, 16);
        if (code >= 0xd800 && code <= 0xdfff) refuse(`a lone surrogate \\u${four}, which no UTF-8 text holds`);
        return `\\x{${four}}`;
      }
      // Without the `u` flag JavaScript reads `\u{41}` as 41 letters u, not as a code point: ambiguous, refused.
      if (braced !== undefined) refuse('a \\u{…} escape: write the code point as \\uXXXX (or a surrogate pair)');
      if (bare !== undefined) refuse('a \\u escape that is not \\uXXXX');
      // A letter JavaScript gives no meaning is itself (`\z` is a z there; RE2 reads it as the end of the text).
      const c = escape.slice(1);
      return /^[A-Za-z]$/.test(c) && !ESCAPES.includes(c) ? c : escape;
    },
  );
}
