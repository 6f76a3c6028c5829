import { ingestObject } from '../../lambda/pipeline/ingest-object.js';
import { createEtlLake, event, jsonl, type EtlLake } from '../support/etl-lake.js';

let lake: EtlLake;
beforeAll(async () => {
  lake = await createEtlLake();
});
afterAll(async () => lake.close());

test('smoke', async () => {
  await lake.putRaw('events/2024/03/01/a.jsonl', jsonl(event(1), event(2), '{bad', event(3, '2024-03-02 01:00:00'), event(4, '2024-13-45 99:00')));
  const run = await ingestObject(lake.deps(), { key: 'events/2024/03/01/a.jsonl' });
  console.log(JSON.stringify(run, null, 2), lake.logs.join('\n'));
  console.log(await lake.processedKeys(''));
  if (run.quarantineKey) console.log(await lake.quarantine(run.quarantineKey));
});
