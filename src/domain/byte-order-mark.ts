/**
 * The UTF-16 byte order mark a text starts with, as hex bytes (`FF FE` little-endian, `FE FF` big-endian), or
 * undefined. Spreadsheets save "Unicode text" so; the ETL reads UTF-8 only, and both it and `datasets infer` refuse
 * such a file naming its encoding.
 */
export function utf16ByteOrderMark(bytes: Uint8Array): 'FF FE' | 'FE FF' | undefined {
  if (bytes[0] === 0xff && bytes[1] === 0xfe) return 'FF FE';
  if (bytes[0] === 0xfe && bytes[1] === 0xff) return 'FE FF';
  return undefined;
}
