import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JsonLogger } from '../../src/adapters/local/json-logger.js';
import { CatalogDocumentError, LocalCatalog } from '../../src/adapters/local/local-catalog.js';
import { LocalObjectStore } from '../../src/adapters/local/local-object-store.js';
import { column, CountingStore } from '../support/graphql-api-fixture.js';

/** The local catalog keeps parsed table records by ETag: an unchanged record is not read again, a changed one is. */

let root: string;
let store: LocalObjectStore;

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'careplus-catalog-cache-'));
  store = new LocalObjectStore(root);
});
afterEach(async () => rm(root, { recursive: true, force: true }));

const base = { description: '', partitionKeys: [], location: 'events/', origin: 'etl' as const };

describe('LocalCatalog record cache', () => {
  it('lists unchanged records from the listing alone, and reads a record another process rewrote', async () => {
    const writer = new LocalCatalog(store);
    await writer.putTable({ ...base, name: 'events', columns: [column('id', 'bigint')] });
    const counting = new CountingStore(store);
    const reader = new LocalCatalog(counting);
    expect((await reader.listTables()).map((t) => t.columns.map((c) => c.name))).toEqual([['id']]);
    counting.reset();
    expect((await reader.listTables()).map((t) => t.schemaVersion)).toEqual([1]);
    expect(Object.fromEntries(counting.calls)).toEqual({ listAll: 1 });

    await writer.putTable({ ...base, name: 'events', columns: [column('id', 'bigint'), column('note', 'string')] });
    counting.reset();
    const [changed] = await reader.listTables();
    expect(changed!.columns.map((c) => c.name)).toEqual(['id', 'note']);
    expect(changed!.schemaVersion).toBe(2);
    expect(Object.fromEntries(counting.calls)).toEqual({ listAll: 1, getBytes: 1 });
    expect((await reader.getTable('events'))!.schemaVersion).toBe(2);
    expect((await reader.schemaVersions('events')).map((v) => v.version)).toEqual([1, 2]);
  });

  it('hands out records that cannot be changed by a caller, and records a new version from its own copy', async () => {
    const catalog = new LocalCatalog(store);
    await catalog.putTable({ ...base, name: 'events', columns: [column('id', 'bigint')] });
    const table = (await catalog.getTable('events'))!;
    expect(() => (table.columns as unknown[]).push(column('x', 'string'))).toThrow(TypeError);
    await catalog.putTable({ ...base, name: 'events', columns: [column('id', 'bigint'), column('x', 'string')] });
    expect((await catalog.schemaVersions('events')).map((v) => v.columns.length)).toEqual([1, 2]);
  });

  it('lists the other tables when one document is damaged, and logs it; naming the damaged one fails', async () => {
    const lines: string[] = [];
    const catalog = new LocalCatalog(store, undefined, new JsonLogger('info', (l) => lines.push(l)));
    await catalog.putTable({ ...base, name: 'events', columns: [column('id', 'bigint')] });
    await catalog.putTable({ ...base, name: 'broken', location: 'broken/', columns: [column('id', 'bigint')] });
    const whole = await store.getBytes('processed', '_catalog/tables/broken.json');
    await store.put('processed', '_catalog/tables/broken.json', Buffer.from(whole).subarray(0, 20));
    expect((await catalog.listTables()).map((t) => t.name)).toEqual(['events']);
    expect(lines.map((l) => JSON.parse(l) as Record<string, unknown>)).toEqual([
      expect.objectContaining({
        level: 'error',
        msg: 'catalog table document left out of the listing: it cannot be read',
        key: '_catalog/tables/broken.json',
      }),
    ]);
    await expect(catalog.getTable('broken')).rejects.toBeInstanceOf(CatalogDocumentError);
    // JSON that is not a table document is damaged too.
    await store.put('processed', '_catalog/tables/broken.json', '{"table": null}');
    expect((await catalog.listTables()).map((t) => t.name)).toEqual(['events']);
  });
});
