import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A stand-in for the AWS Glue Data Catalog, for tests: the AWS JSON 1.1 protocol the real GlueClient speaks
 * (POST /, `X-Amz-Target: AWSGlue.<Operation>`, `Content-Type: application/x-amz-json-1.1`, JSON both ways,
 * timestamps as epoch seconds), in-memory state, and only the operations the GlueCatalog adapter uses:
 * GetTables, GetTable, CreateTable, UpdateTable, GetTableVersions, DeleteTable, BatchCreatePartition,
 * BatchUpdatePartition, BatchDeletePartition, GetPartitions.
 *
 * Behaviour kept from Glue: real paging with opaque NextTokens, and pages that may be shorter than MaxResults
 * (`maxPageSize`, as Glue itself does); table names lower-cased; a version per CreateTable/UpdateTable unless
 * SkipArchive; UpdateTable's VersionId checked (ConcurrentModificationException); AlreadyExistsException per entry
 * in BatchCreatePartition, at most 100 entries; EntityNotFoundException per entry in BatchUpdatePartition (its
 * PartitionInput replaces the partition, which keeps its creation time), at most 100; EntityNotFoundException per entry in BatchDeletePartition, at most 25; GetPartitions in creation order, since Glue promises no order;
 * errors as status 400 with `{"__type": "...Exception", "Message": ...}`. Signatures are not checked.
 */

type Json = Record<string, unknown>;

interface StoredTable {
  current: Json;
  versions: { versionId: number; table: Json }[];
  partitions: Json[];
}

export interface GlueStandIn {
  endpoint: string;
  /** Requests received, by operation name; for asserting call patterns. */
  readonly calls: string[];
  stop(): Promise<void>;
}

class GlueError extends Error {
  constructor(
    readonly type: string,
    message: string,
  ) {
    super(message);
  }
}

const LIMITS = { tables: 100, versions: 100, partitions: 1000, batch: 100, deleteBatch: 25 };

export async function startGlueStandIn(options: { databases: string[]; maxPageSize?: number }): Promise<GlueStandIn> {
  const databases = new Map<string, Map<string, StoredTable>>(options.databases.map((d) => [d, new Map()]));
  const maxPageSize = options.maxPageSize ?? Number.MAX_SAFE_INTEGER;
  const calls: string[] = [];

  const db = (body: Json): Map<string, StoredTable> => {
    const name = str(body, 'DatabaseName');
    const tables = databases.get(name);
    if (tables === undefined) throw new GlueError('EntityNotFoundException', `Database ${name} not found.`);
    return tables;
  };
  const table = (body: Json, field: 'Name' | 'TableName'): StoredTable => {
    const name = str(body, field).toLowerCase();
    const t = db(body).get(name);
    if (t === undefined) throw new GlueError('EntityNotFoundException', `Table ${name} not found.`);
    return t;
  };
  const page = <T>(items: T[], body: Json, scope: string, max: number): { items: T[]; next?: string } => {
    const limit = Math.min(int(body, 'MaxResults', max, 1, max), maxPageSize);
    const start = body['NextToken'] !== undefined ? readToken(str(body, 'NextToken'), scope) : 0;
    const end = start + limit;
    return { items: items.slice(start, end), ...(end < items.length ? { next: writeToken(scope, end) } : {}) };
  };

  const operations: Record<string, (body: Json) => Json> = {
    GetTables(body) {
      const all = [...db(body).values()].map((t) => t.current).sort((a, b) => cmp(a['Name'], b['Name']));
      const p = page(all, body, `tables:${str(body, 'DatabaseName')}`, LIMITS.tables);
      return { TableList: p.items, ...(p.next !== undefined ? { NextToken: p.next } : {}) };
    },
    GetTable(body) {
      return { Table: table(body, 'Name').current };
    },
    CreateTable(body) {
      const input = obj(body, 'TableInput');
      const name = str(input, 'Name').toLowerCase();
      const tables = db(body);
      if (tables.has(name)) throw new GlueError('AlreadyExistsException', `Table already exists.`);
      const now = epochSeconds();
      const t: Json = {
        ...input,
        Name: name,
        DatabaseName: str(body, 'DatabaseName'),
        CreateTime: now,
        UpdateTime: now,
        VersionId: '1',
        IsRegisteredWithLakeFormation: false,
      };
      tables.set(name, { current: t, versions: [{ versionId: 1, table: t }], partitions: [] });
      return {};
    },
    UpdateTable(body) {
      const input = obj(body, 'TableInput');
      const stored = table({ ...body, Name: str(input, 'Name') }, 'Name');
      const currentId = Number(stored.current['VersionId']);
      if (body['VersionId'] !== undefined && str(body, 'VersionId') !== String(currentId)) {
        throw new GlueError('ConcurrentModificationException', 'Update table failed due to concurrent modifications.');
      }
      const skipArchive = body['SkipArchive'] === true;
      const versionId = skipArchive ? currentId : currentId + 1;
      const t: Json = {
        ...input,
        Name: stored.current['Name'],
        DatabaseName: stored.current['DatabaseName'],
        CreateTime: stored.current['CreateTime'],
        UpdateTime: epochSeconds(),
        VersionId: String(versionId),
        IsRegisteredWithLakeFormation: false,
      };
      stored.current = t;
      if (skipArchive) stored.versions[stored.versions.length - 1] = { versionId, table: t };
      else stored.versions.push({ versionId, table: t });
      return {};
    },
    GetTableVersions(body) {
      const stored = table(body, 'TableName');
      // Newest first; callers must not rely on the order.
      const all = [...stored.versions].reverse().map((v) => ({ Table: v.table, VersionId: String(v.versionId) }));
      const p = page(all, body, `versions:${str(body, 'TableName')}`, LIMITS.versions);
      return { TableVersions: p.items, ...(p.next !== undefined ? { NextToken: p.next } : {}) };
    },
    DeleteTable(body) {
      table(body, 'Name');
      db(body).delete(str(body, 'Name').toLowerCase());
      return {};
    },
    BatchCreatePartition(body) {
      const stored = table(body, 'TableName');
      const inputs = list(body, 'PartitionInputList', LIMITS.batch);
      const keyCount = Array.isArray(stored.current['PartitionKeys']) ? stored.current['PartitionKeys'].length : 0;
      const errors: Json[] = [];
      for (const raw of inputs) {
        const values = raw['Values'];
        if (!Array.isArray(values) || values.length !== keyCount || !values.every((v) => typeof v === 'string')) {
          errors.push(
            partitionError(
              values,
              'InvalidInputException',
              'The number of partition keys do not match the number of partition values',
            ),
          );
          continue;
        }
        if (stored.partitions.some((p) => sameValues(p['Values'], values))) {
          errors.push(partitionError(values, 'AlreadyExistsException', 'Partition already exists.'));
          continue;
        }
        const now = epochSeconds();
        stored.partitions.push({
          ...raw,
          DatabaseName: str(body, 'DatabaseName'),
          TableName: stored.current['Name'],
          CreationTime: now,
          LastAccessTime: now,
        });
      }
      return errors.length > 0 ? { Errors: errors } : {};
    },
    BatchUpdatePartition(body) {
      const stored = table(body, 'TableName');
      const entries = list(body, 'Entries', LIMITS.batch);
      const errors: Json[] = [];
      for (const raw of entries) {
        const values = Array.isArray(raw['PartitionValueList']) ? (raw['PartitionValueList'] as unknown[]) : [];
        const at = stored.partitions.findIndex((p) => sameValues(p['Values'], values));
        if (at < 0) {
          errors.push({
            PartitionValueList: values,
            ErrorDetail: { ErrorCode: 'EntityNotFoundException', ErrorMessage: 'Partition not found.' },
          });
          continue;
        }
        const before = stored.partitions[at]!;
        stored.partitions[at] = {
          ...((raw['PartitionInput'] ?? {}) as Json),
          DatabaseName: before['DatabaseName'],
          TableName: before['TableName'],
          CreationTime: before['CreationTime'],
          LastAccessTime: epochSeconds(),
        };
      }
      return errors.length > 0 ? { Errors: errors } : {};
    },
    BatchDeletePartition(body) {
      const stored = table(body, 'TableName');
      const entries = list(body, 'PartitionsToDelete', LIMITS.deleteBatch);
      const errors: Json[] = [];
      for (const raw of entries) {
        const values = Array.isArray(raw['Values']) ? (raw['Values'] as unknown[]) : [];
        const at = stored.partitions.findIndex((p) => sameValues(p['Values'], values));
        if (at < 0) {
          errors.push(partitionError(values, 'EntityNotFoundException', 'Partition not found.'));
          continue;
        }
        stored.partitions.splice(at, 1);
      }
      return errors.length > 0 ? { Errors: errors } : {};
    },
    GetPartitions(body) {
      const stored = table(body, 'TableName');
      if (body['Expression'] !== undefined) {
        throw new GlueError('InvalidInputException', 'the stand-in does not evaluate partition expressions');
      }
      const all = stored.partitions.map((p) => {
        if (body['ExcludeColumnSchema'] !== true) return p;
        const sd = (p['StorageDescriptor'] ?? {}) as Json;
        const rest = Object.fromEntries(Object.entries(sd).filter(([k]) => k !== 'Columns'));
        return { ...p, StorageDescriptor: rest };
      });
      const p = page(all, body, `partitions:${str(body, 'TableName')}`, LIMITS.partitions);
      return { Partitions: p.items, ...(p.next !== undefined ? { NextToken: p.next } : {}) };
    },
  };

  const server: Server = createServer((req, res) => {
    void handle(req, res);
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const requestId = randomUUID();
    const send = (status: number, body: Json): void => {
      const text = JSON.stringify(body);
      res.writeHead(status, {
        'content-type': 'application/x-amz-json-1.1',
        'content-length': Buffer.byteLength(text),
        'x-amzn-requestid': requestId,
      });
      res.end(text);
    };
    try {
      const target = req.headers['x-amz-target'];
      if (req.method !== 'POST' || req.url !== '/' || typeof target !== 'string' || !target.startsWith('AWSGlue.')) {
        throw new GlueError('UnknownOperationException', `unknown operation ${String(target)}`);
      }
      if (req.headers['content-type'] !== 'application/x-amz-json-1.1') {
        throw new GlueError(
          'SerializationException',
          `expected application/x-amz-json-1.1, got ${String(req.headers['content-type'])}`,
        );
      }
      const op = target.slice('AWSGlue.'.length);
      calls.push(op);
      const fn = operations[op];
      if (fn === undefined) throw new GlueError('UnknownOperationException', `the stand-in does not implement ${op}`);
      let body: unknown;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        throw new GlueError('SerializationException', 'request body is not JSON');
      }
      if (body === null || typeof body !== 'object' || Array.isArray(body)) {
        throw new GlueError('SerializationException', 'request body is not a JSON object');
      }
      send(200, fn(body as Json));
    } catch (err) {
      if (err instanceof GlueError) send(400, { __type: err.type, Message: err.message });
      else send(500, { __type: 'InternalServiceException', Message: err instanceof Error ? err.message : String(err) });
    }
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    calls,
    stop: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((err) => (err ? reject(err) : resolve()));
      }),
  };
}

function str(body: Json, field: string): string {
  const v = body[field];
  if (typeof v !== 'string' || v === '') {
    throw new GlueError(
      'InvalidInputException',
      `1 validation error detected: Value at '${field}' failed to satisfy constraint: Member must not be null`,
    );
  }
  return v;
}

/** A list field of 1 to `max` entries, as Glue's batch operations take them. */
function list(body: Json, field: string, max: number): Json[] {
  const v = body[field];
  if (!Array.isArray(v) || v.length === 0 || v.length > max) {
    const name = field.charAt(0).toLowerCase() + field.slice(1);
    throw new GlueError(
      'InvalidInputException',
      `1 validation error detected: Value at '${name}' failed to satisfy constraint: Member must have length between 1 and ${max}`,
    );
  }
  return v as Json[];
}

function obj(body: Json, field: string): Json {
  const v = body[field];
  if (v === null || typeof v !== 'object' || Array.isArray(v)) {
    throw new GlueError(
      'InvalidInputException',
      `1 validation error detected: Value at '${field}' failed to satisfy constraint: Member must not be null`,
    );
  }
  return v as Json;
}

function int(body: Json, field: string, fallback: number, min: number, max: number): number {
  const v = body[field];
  if (v === undefined) return fallback;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new GlueError(
      'InvalidInputException',
      `1 validation error detected: Value '${String(v)}' at '${field}' failed to satisfy constraint: Member must have value between ${min} and ${max}`,
    );
  }
  return v;
}

/** Opaque to clients; bound to the listing it came from, like Glue's. */
function writeToken(scope: string, offset: number): string {
  return Buffer.from(JSON.stringify({ scope, offset }), 'utf8').toString('base64');
}

function readToken(token: string, scope: string): number {
  try {
    const t = JSON.parse(Buffer.from(token, 'base64').toString('utf8')) as { scope?: unknown; offset?: unknown };
    if (t.scope === scope && typeof t.offset === 'number') return t.offset;
  } catch {
    // fall through
  }
  throw new GlueError('InvalidInputException', 'Invalid continuation token');
}

function epochSeconds(): number {
  return Date.now() / 1000;
}

function cmp(a: unknown, b: unknown): number {
  return String(a) < String(b) ? -1 : String(a) > String(b) ? 1 : 0;
}

function sameValues(a: unknown, b: unknown[]): boolean {
  return Array.isArray(a) && a.length === b.length && a.every((v, i) => v === b[i]);
}

function partitionError(values: unknown, code: string, message: string): Json {
  return {
    PartitionValues: Array.isArray(values) ? values : [],
    ErrorDetail: { ErrorCode: code, ErrorMessage: message },
  };
}
