import { compareUtf8 } from '../../src/domain/utf8-order.js';

/** The reference: the UTF-8 bytes of both strings compared. */
function byBytes(a: string, b: string): number {
  return Math.sign(Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8')));
}

/** Characters at every boundary of UTF-8 lengths and of the UTF-16 surrogate ranges. */
const ALPHABET = [
  '',
  '/',
  '=',
  'a',
  'z',
  '\u007f',
  '\u0080',
  '\u07ff',
  '\u0800',
  '\ud7ff',
  '\ue000',
  '\ufffd',
  '\uffff',
  '\u{10000}',
  '\u{1f600}',
  '\u{10ffff}',
];

/** A deterministic generator (mulberry32), so a failure names the same strings every run. */
function random(seed: number): () => number {
  let s = seed;
  return () => {
    s = (s + 0x6d2b79f5) | 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('compareUtf8', () => {
  it('orders every pair of boundary characters as their UTF-8 bytes do', () => {
    for (const a of ALPHABET) {
      for (const b of ALPHABET) expect([a, b, Math.sign(compareUtf8(a, b))]).toEqual([a, b, byBytes(a, b)]);
    }
  });

  it('orders characters above U+FFFF after U+E000..U+FFFF, unlike UTF-16 code units', () => {
    expect(compareUtf8('\u{1f600}', '\uffff')).toBeGreaterThan(0);
    expect(compareUtf8('\ue000', '\u{10000}')).toBeLessThan(0);
    expect('\u{1f600}' < '\uffff').toBe(true);
  });

  it('agrees with the UTF-8 byte order on 100,000 random strings of those characters', () => {
    const next = random(42);
    const text = (): string =>
      Array.from({ length: Math.floor(next() * 5) }, () => ALPHABET[Math.floor(next() * ALPHABET.length)]).join('');
    const wrong: [string, string][] = [];
    for (let i = 0; i < 100_000; i++) {
      const a = text();
      const b = text();
      if (Math.sign(compareUtf8(a, b)) !== byBytes(a, b)) wrong.push([a, b]);
    }
    expect(wrong).toEqual([]);
  });

  it('sorts object keys as S3 lists them', () => {
    const keys = ['b/x', 'a=\u00e9/k', 'a=e/k', 'a/\u{1f600}', 'a/\uffee', 'a/z', 'a-b', 'a'];
    const expected = [...keys].sort((x, y) => byBytes(x, y));
    expect([...keys].sort(compareUtf8)).toEqual(expected);
  });
});
