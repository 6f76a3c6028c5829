import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalObjectStore } from '../../src/adapters/local/local-object-store';
import { generateSampleFiles } from '../../src/sample/sample-files';
import { writeSample } from '../../src/sample/write-sample';

describe('writeSample', () => {
  let root: string;
  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'careplus-sample-'));
  });
  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('puts every sample file into the raw bucket and returns the manifest', async () => {
    const store = new LocalObjectStore(root);
    const options = { seed: 5, days: 6, ticketsPerDay: 4 };
    const manifest = await writeSample(store, options);
    const expected = generateSampleFiles(options);
    expect(manifest).toEqual(expected.manifest);

    const listed: string[] = [];
    for await (const o of store.listAll('raw', 'support_events/')) listed.push(o.key);
    expect(listed).toEqual([...expected.files.keys()]);
    for (const [key, bytes] of expected.files) {
      expect(Buffer.compare(await store.getBytes('raw', key), bytes)).toBe(0);
    }
    // Nothing lands outside the dataset's raw prefix.
    const everything: string[] = [];
    for await (const o of store.listAll('raw', '')) everything.push(o.key);
    expect(everything).toEqual(listed);
  });

  it('leaves the files already there with the same bytes as they are: written again, the ETL took them for new uploads', async () => {
    const store = new LocalObjectStore(root);
    await writeSample(store, { seed: 5, days: 60, ticketsPerDay: 4 });
    const before = new Map<string, string>();
    for await (const o of store.listAll('raw', 'support_events/')) before.set(o.key, o.etag);
    // The same sample again, then the next day's longer one: the 60 days are unchanged objects, the 61st is new.
    await writeSample(store, { seed: 5, days: 60, ticketsPerDay: 4 });
    await writeSample(store, { seed: 5, days: 61, ticketsPerDay: 4 });
    const after = new Map<string, string>();
    for await (const o of store.listAll('raw', 'support_events/')) after.set(o.key, o.etag);
    expect(after.size).toBe(61);
    for (const [key, etag] of before) expect(after.get(key)).toBe(etag);
  });
});
