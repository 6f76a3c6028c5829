import {
  isCatalogName,
  type PartitionRecord,
  type SchemaVersion,
  type TableColumn,
  type TableDefinition,
} from '../../domain/table.js';
import type { Catalog, PartitionPage } from '../../ports/catalog.js';
import type { Logger } from '../../ports/logger.js';
import type { ObjectInfo, ObjectStore } from '../../ports/object-store.js';

const TABLES = '_catalog/tables/';
const PARTITIONS = '_catalog/partitions/';

interface TableDocument {
  table: TableDefinition;
  versions: SchemaVersion[];
}

/**
 * The local catalog: table definitions as JSON documents in the processed bucket (`_catalog/tables/<name>.json`)
 * and one small object per partition (`_catalog/partitions/<name>/<k=v>.json`), so registering partitions from
 * concurrent runs never loses an update. Works on any ObjectStore, local folder or S3.
 */
export class LocalCatalog implements Catalog {
  readonly kind = 'local' as const;
  /**
   * Table documents by key, with the ETag they were read at: a document whose ETag has not changed is not read and
   * parsed again (the API lists the tables on every request). Frozen: callers share them.
   */
  private readonly docs = new Map<string, { etag: string; doc: TableDocument }>();

  constructor(
    private readonly store: ObjectStore,
    private readonly now: () => Date = () => new Date(),
    private readonly logger?: Logger,
  ) {}

  /**
   * Every table with a readable document. A document that cannot be parsed (a damaged or half-copied file) is left
   * out and logged, so one broken table does not fail the listing of every other; naming it alone fails.
   */
  async listTables(): Promise<TableDefinition[]> {
    const tables: TableDefinition[] = [];
    for await (const obj of this.store.listAll('processed', TABLES)) {
      if (!obj.key.endsWith('.json')) continue;
      let doc: TableDocument | undefined;
      try {
        doc = await this.readDoc(obj.key, obj);
      } catch (err) {
        if (!(err instanceof CatalogDocumentError)) throw err;
        this.logger?.error('catalog table document left out of the listing: it cannot be read', {
          key: obj.key,
          error: err.message,
        });
        continue;
      }
      if (doc) tables.push(doc.table);
    }
    return tables.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  async getTable(name: string): Promise<TableDefinition | undefined> {
    if (!isCatalogName(name)) return undefined;
    return (await this.readDoc(tableKey(name)))?.table;
  }

  async schemaVersions(name: string): Promise<SchemaVersion[]> {
    if (!isCatalogName(name)) return [];
    return (await this.readDoc(tableKey(name)))?.versions ?? [];
  }

  async putTable(input: Omit<TableDefinition, 'schemaVersion' | 'updatedAt'>): Promise<TableDefinition> {
    const existing = await this.readDoc(tableKey(input.name));
    const now = this.now().toISOString();
    const versions = [...(existing?.versions ?? [])];
    const current = versions[versions.length - 1];
    let schemaVersion = current?.version ?? 0;
    const changed = current === undefined || !sameColumns(current.columns, input.columns);
    if (changed) {
      schemaVersion += 1;
      versions.push({ version: schemaVersion, columns: input.columns, createdAt: now });
    }
    const table: TableDefinition = {
      ...input,
      schemaVersion,
      updatedAt: changed ? now : (existing?.table.updatedAt ?? now),
    };
    const unchanged = existing !== undefined && !changed && JSON.stringify(existing.table) === JSON.stringify(table);
    if (!unchanged) {
      const doc: TableDocument = { table, versions };
      await this.store.put('processed', tableKey(input.name), JSON.stringify(doc, null, 2), {
        contentType: 'application/json',
      });
    }
    return table;
  }

  async addPartitions(name: string, partitions: PartitionRecord[]): Promise<void> {
    for (const p of partitions) {
      const key = `${PARTITIONS}${name}/${partitionName(p.values)}.json`;
      if (await this.store.head('processed', key)) continue;
      await this.store.put('processed', key, JSON.stringify(p), { contentType: 'application/json' });
    }
  }

  async removePartitions(name: string, partitions: Pick<PartitionRecord, 'values'>[]): Promise<void> {
    for (const p of partitions) {
      await this.store.delete('processed', `${PARTITIONS}${name}/${partitionName(p.values)}.json`);
    }
  }

  async hasPartitions(name: string): Promise<boolean> {
    return (await this.store.list('processed', `${PARTITIONS}${name}/`, { maxKeys: 1 })).objects.length > 0;
  }

  async listPartitions(name: string, options?: { maxResults?: number; token?: string }): Promise<PartitionPage> {
    const page = await this.store.list('processed', `${PARTITIONS}${name}/`, {
      maxKeys: options?.maxResults ?? 1000,
      ...(options?.token !== undefined ? { token: options.token } : {}),
    });
    const partitions: PartitionRecord[] = [];
    for (const obj of page.objects) {
      const bytes = await this.store.getBytes('processed', obj.key);
      partitions.push(JSON.parse(Buffer.from(bytes).toString('utf8')) as PartitionRecord);
    }
    return { partitions, nextToken: page.nextToken };
  }

  async deleteTable(name: string): Promise<void> {
    for await (const obj of this.store.listAll('processed', `${PARTITIONS}${name}/`)) {
      await this.store.delete('processed', obj.key);
    }
    await this.store.delete('processed', tableKey(name));
  }

  /** The document at `key`, or undefined; `listed` is its listing entry when the caller has it (no HEAD then). */
  private async readDoc(key: string, listed?: ObjectInfo): Promise<TableDocument | undefined> {
    const info = listed ?? (await this.store.head('processed', key));
    if (!info) return undefined;
    const cached = this.docs.get(key);
    if (cached?.etag === info.etag) return cached.doc;
    // Read after the ETag: if the document changed in between, newer bytes sit under the older ETag, which is
    // never current again, so the next read replaces them.
    const bytes = await this.store.getBytes('processed', key);
    const doc = deepFreeze(parseDocument(key, bytes));
    this.docs.delete(key);
    this.docs.set(key, { etag: info.etag, doc });
    if (this.docs.size > MAX_CACHED_DOCS) this.docs.delete(this.docs.keys().next().value!);
    return doc;
  }
}

/** A table document that is not one: not JSON, or without a table and its versions. */
export class CatalogDocumentError extends Error {
  constructor(key: string, why: string) {
    super(`the catalog document ${key} cannot be read: ${why}`);
    this.name = 'CatalogDocumentError';
  }
}

function parseDocument(key: string, bytes: Uint8Array): TableDocument {
  let doc: unknown;
  try {
    doc = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch (err) {
    throw new CatalogDocumentError(key, (err as Error).message);
  }
  const d = doc as Partial<TableDocument> | null;
  if (
    typeof d !== 'object' ||
    d === null ||
    typeof d.table !== 'object' ||
    d.table === null ||
    typeof d.table.name !== 'string' ||
    !Array.isArray(d.table.columns) ||
    !Array.isArray(d.versions)
  ) {
    throw new CatalogDocumentError(key, 'it has no table definition and versions');
  }
  return doc as TableDocument;
}

/** Table documents kept parsed (the oldest read goes first beyond it). */
const MAX_CACHED_DOCS = 10_000;

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

function tableKey(name: string): string {
  return `${TABLES}${name}.json`;
}

/** Hive-style `k=v/k2=v2`, with values escaped so the name stays one safe path segment per key. */
export function partitionName(values: Record<string, string>): string {
  return Object.keys(values)
    .sort()
    .map((k) => `${k}=${encodeURIComponent(values[k]!)}`)
    .join('/');
}

function sameColumns(a: TableColumn[], b: TableColumn[]): boolean {
  if (a.length !== b.length) return false;
  return a.every((c, i) => {
    const d = b[i]!;
    return c.name === d.name && c.type === d.type && c.nullable === d.nullable;
  });
}
