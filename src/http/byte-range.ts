/**
 * The answer to an HTTP `Range` header for a resource of `size` bytes (RFC 9110 §14):
 * - `full`: no usable range (absent, not `bytes=`, malformed, or several ranges): send the whole resource, 200;
 * - `partial`: one satisfiable range, `end` inclusive and clamped to the resource: 206;
 * - `unsatisfiable`: a well-formed range that starts at or past the end: 416.
 * Several ranges would need a multipart answer; a server may ignore Range instead, and this one does.
 */
export type RangeAnswer =
  { kind: 'full' } | { kind: 'partial'; start: number; end: number } | { kind: 'unsatisfiable' };

const SINGLE = /^bytes=(\d*)-(\d*)$/;

export function answerRange(header: string | undefined, size: number): RangeAnswer {
  if (header === undefined) return { kind: 'full' };
  const m = SINGLE.exec(header.trim());
  if (m === null) return { kind: 'full' };
  const [, first = '', last = ''] = m;
  if (first === '' && last === '') return { kind: 'full' };
  if (first === '') {
    // `bytes=-n`: the last n bytes.
    const suffix = Number(last);
    if (!Number.isSafeInteger(suffix)) return { kind: 'full' };
    if (suffix === 0 || size === 0) return { kind: 'unsatisfiable' };
    return { kind: 'partial', start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(first);
  const end = last === '' ? Number.MAX_SAFE_INTEGER : Number(last);
  // `bytes=9-5` is malformed (ignored); a well-formed range starting at or past the end is unsatisfiable.
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || end < start) return { kind: 'full' };
  if (start >= size) return { kind: 'unsatisfiable' };
  return { kind: 'partial', start, end: Math.min(end, size - 1) };
}
