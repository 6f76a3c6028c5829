import { ingestObject } from '../../lambda/pipeline/ingest-object.js';
import { EVENTS, createEtlLake, event, jsonl, type EtlLake } from '../support/etl-lake.js';

/**
 * `careplus start` ingests the whole raw bucket each time. A file that fails for a reason its bytes decide (here an
 * empty one) used to fail again at every start, so a mere restart turned the pipeline status FAILING and counted one
 * more failure. The same bytes under the same definition are now SKIPPED (`already_failed`), saying why they failed.
 */
let lake: EtlLake;
beforeEach(async () => {
  lake = await createEtlLake();
});
afterEach(async () => lake.close());

const KEY = 'events/2024/03/01/empty.jsonl';

describe('a source that failed for good', () => {
  it('is skipped while its bytes and the definition stay the same, and tried again when forced or changed', async () => {
    await lake.putRaw(KEY, '');
    const first = await ingestObject(lake.deps(), { key: KEY });
    expect(first).toMatchObject({ status: 'FAILED', error: { reason: 'empty_file' } });

    const again = await ingestObject(lake.deps(), { key: KEY });
    expect(again).toMatchObject({
      status: 'SKIPPED',
      error: {
        reason: 'already_failed',
        message:
          'this version failed before (empty_file: the object is empty (0 bytes)); change the file or the definition, or force a new try',
      },
    });

    expect(await ingestObject(lake.deps(), { key: KEY }, { force: true })).toMatchObject({
      status: 'FAILED',
      error: { reason: 'empty_file' },
    });

    // Another definition may read the same bytes otherwise: tried again.
    lake.registry({ ...EVENTS, columns: [...EVENTS.columns, { name: 'channel', type: 'string' }] });
    expect(await ingestObject(lake.deps(), { key: KEY })).toMatchObject({
      status: 'FAILED',
      error: { reason: 'empty_file' },
    });

    // Fixed: processed.
    await lake.putRaw(KEY, jsonl(event(1)));
    expect(await ingestObject(lake.deps(), { key: KEY })).toMatchObject({ status: 'SUCCEEDED', rowsWritten: 1 });
  });
});
