import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalObjectStore } from '../../src/adapters/local/local-object-store.js';
import { type ExportCaller, exportResultPrefix } from '../../src/domain/export-job.js';
import { column } from '../support/export-table.js';
import { createExportHarness, createExportLake, finished } from '../support/export-lake.js';

/**
 * Found by a hands-on test of the export lifecycle on the lake folder: every export whose result retention expired
 * (or whose files a cancel removed) left an empty `lake/exports/results/<job-id>/` behind for good, one more folder
 * per export, as the local store removed files but never the folders it had made for them. S3 has no folders, so
 * the local store now removes the folders a delete leaves empty.
 */
describe('local store: folders a delete leaves empty', () => {
  let root: string;

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'careplus-folders-'));
  });

  afterEach(async () => rm(root, { recursive: true, force: true }));

  it('removes the folders of the last object deleted, up to but not including the bucket folder', async () => {
    const store = new LocalObjectStore(root);
    await store.put('exports', 'results/job-1/part-00000.csv', 'a\n');
    await store.put('exports', 'results/job-1/manifest.json', '{}');
    await store.put('exports', 'results/job-2/part-00000.csv', 'b\n');
    await store.delete('exports', 'results/job-1/part-00000.csv');
    expect(existsSync(join(root, 'exports', 'results', 'job-1'))).toBe(true); // still holds the manifest
    await store.delete('exports', 'results/job-1/manifest.json', {
      ifMatch: (await store.head('exports', 'results/job-1/manifest.json'))!.etag,
    });
    expect(existsSync(join(root, 'exports', 'results', 'job-1'))).toBe(false);
    expect(await readdir(join(root, 'exports', 'results'))).toEqual(['job-2']);
    await store.delete('exports', 'results/job-2/part-00000.csv');
    expect(await readdir(join(root, 'exports'))).toEqual([]);
    // Deleting what is not there changes nothing.
    await store.delete('exports', 'results/job-3/part-00000.csv');
    expect(existsSync(join(root, 'exports'))).toBe(true);
  });

  it('never loses a write into a folder whose last other object is being deleted', async () => {
    const store = new LocalObjectStore(root);
    for (let round = 0; round < 200; round++) {
      const folder = `jobs/round-${round % 4}`;
      await store.put('exports', `${folder}/old.json`, 'old');
      await Promise.all([
        store.delete('exports', `${folder}/old.json`),
        store.put('exports', `${folder}/new-${round}.json`, 'new'),
        store.put('exports', `${folder}/created-${round}.json`, 'x', { ifNoneMatch: true }),
      ]);
      expect(await store.getBytes('exports', `${folder}/new-${round}.json`)).toEqual(new TextEncoder().encode('new'));
      expect(await store.head('exports', `${folder}/created-${round}.json`)).toBeDefined();
      await store.delete('exports', `${folder}/new-${round}.json`);
      await store.delete('exports', `${folder}/created-${round}.json`);
    }
    expect(await readdir(join(root, 'exports'))).toEqual([]);
  });
});

describe('exports on the lake folder leave no empty folders', () => {
  const caller: ExportCaller = { id: 'analyst-folders' };

  it('an expired result leaves no folder behind', async () => {
    const lake = await createExportLake();
    try {
      await lake.writeParquet(
        'tickets/part-0.parquet',
        `SELECT n::BIGINT AS id, 'ticket ' || n AS title FROM range(200000) t(n)`,
      );
      await lake.catalog.putTable({
        name: 'tickets',
        description: '',
        columns: [column('id', 'bigint'), column('title', 'string')],
        partitionKeys: [],
        location: 'tickets/',
        origin: 'etl',
      });
      const harness = await createExportHarness(lake);
      try {
        const resultFolder = (id: string): string =>
          join(
            lake.root,
            'lake',
            'exports',
            ...exportResultPrefix(id)
              .split('/')
              .filter((s) => s !== ''),
          );

        const done = await finished(
          harness.service,
          caller,
          (await harness.service.requestExport(caller, { dataset: 'tickets', columns: ['id'] })).id,
        );
        expect(done.status).toBe('SUCCEEDED');
        expect(existsSync(resultFolder(done.id))).toBe(true);
        expect(await harness.service.expireOlderThan(new Date(Date.now() + 1000))).toContain(done.id);
        expect(existsSync(resultFolder(done.id))).toBe(false);
      } finally {
        await harness.close();
      }
    } finally {
      await lake.close();
    }
  }, 120_000);
});
