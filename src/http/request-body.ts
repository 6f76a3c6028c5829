import { brotliDecompressSync, gunzipSync, inflateSync } from 'node:zlib';
import { TextDecoder } from 'node:util';

/**
 * What a client is told of a GraphQL request body that cannot be read, by the server (body-parser's refusals, see
 * src/server.ts) and the API Lambda (readJsonBody) alike, naming what to fix. Only facts the client sent (a charset
 * or encoding name) are echoed, never the body.
 */
export const BODY_ERRORS = {
  notJson: 'Request body is not valid JSON',
  notObject: 'Request body must be a JSON object: {"query": "...", "variables": {...}}',
  tooLarge: 'Request body too large',
  charset: (charset: string): string =>
    `Unsupported charset ${JSON.stringify(charset.toUpperCase())}: send the body as UTF-8`,
  encoding: (encoding: string): string =>
    `Unsupported content encoding ${JSON.stringify(encoding)}: send the body as is, or with gzip, deflate or br`,
  undecodable: (encoding: string): string =>
    `Request body could not be decoded as its Content-Encoding says (${encoding.trim().toLowerCase()})`,
} as const;

/** Whether a text is JSON at all (a body that is, but not an object, is told so). */
export function isJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

/** A body as it arrived over HTTP: its bytes and the headers that say how to read them (names in any case). */
export interface RawBody {
  bytes: Buffer;
  headers: Record<string, string | undefined>;
  /** Largest body accepted once decompressed, in bytes. */
  limitBytes: number;
}

/**
 * The JSON text of a request body whose media type is `application/json` (in any case), read as the server's JSON
 * parser (express.json, body-parser) reads it: decompressed per `Content-Encoding` (gzip, deflate, br), decoded per
 * its `charset` (UTF-8 by default), a JSON object or array. `undefined` for a body of another media type (left to
 * GraphQL's own handling); a refusal with the status and message the server answers otherwise.
 */
export function readJsonBody(body: RawBody): { text: string } | { status: number; message: string } | undefined {
  const header = (name: string): string | undefined =>
    Object.entries(body.headers).find(([k]) => k.toLowerCase() === name)?.[1];
  const [mediaType = '', ...params] = (header('content-type') ?? '').split(';');
  if (mediaType.trim().toLowerCase() !== 'application/json') return undefined;
  const charset =
    params
      .map((p) => /^\s*charset\s*=\s*"?([^";]*)"?\s*$/i.exec(p)?.[1])
      .find((c) => c !== undefined)
      ?.toLowerCase() ?? 'utf-8';
  if (!charset.startsWith('utf-')) return { status: 415, message: BODY_ERRORS.charset(charset) };
  let decoder: TextDecoder;
  try {
    decoder = new TextDecoder(charset);
  } catch {
    return { status: 415, message: BODY_ERRORS.charset(charset) };
  }
  const encoding = (header('content-encoding') ?? 'identity').trim().toLowerCase();
  const inflate = { gzip: gunzipSync, deflate: inflateSync, br: brotliDecompressSync, identity: undefined }[
    encoding as 'gzip' | 'deflate' | 'br' | 'identity'
  ];
  if (inflate === undefined && encoding !== 'identity') {
    return { status: 415, message: BODY_ERRORS.encoding(header('content-encoding') ?? '') };
  }
  let bytes = body.bytes;
  if (inflate !== undefined) {
    try {
      bytes = inflate(bytes, { maxOutputLength: body.limitBytes });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
        return { status: 413, message: BODY_ERRORS.tooLarge };
      }
      return { status: 400, message: BODY_ERRORS.undecodable(encoding) };
    }
  }
  // As body-parser: an empty body is an empty object (GraphQL then says what is missing).
  if (bytes.length === 0) return { text: '{}' };
  const text = decoder.decode(bytes);
  // As body-parser's strict mode: an object or an array (a batch, which GraphQL then refuses), nothing else.
  const first = /\S/.exec(text)?.[0];
  if (first !== '{' && first !== '[') {
    return { status: 400, message: isJson(text) ? BODY_ERRORS.notObject : BODY_ERRORS.notJson };
  }
  if (!isJson(text)) return { status: 400, message: BODY_ERRORS.notJson };
  return { text };
}
