import { ingestObject } from '../../lambda/pipeline/ingest-object.js';
import { EVENTS, LOGS, createEtlLake, event, jsonl, type EtlLake } from '../support/etl-lake.js';

let lake: EtlLake;
beforeEach(async () => {
  lake = await createEtlLake();
  // An event key column the definition leaves nullable (the default).
  lake.registry(
    { ...EVENTS, columns: EVENTS.columns.map((c) => (c.name === 'event_id' ? { ...c, nullable: true } : c)) },
    LOGS,
  );
});
afterEach(async () => lake.close());

const header = 'event_id,ticket_id,activity,timestamp,priority,amount,duration,urgent';

describe('a record without its event key', () => {
  it.each([
    [
      'JSON Lines',
      'events/2024/03/01/a.jsonl',
      jsonl(event(1), { ...event(2), event_id: null }, { ...event(3), event_id: undefined }),
    ],
    [
      'CSV',
      'events/2024/03/01/a.csv',
      `${header}\n1,T1,x,2024-03-01 10:00:00,2,1.00,1.5,true\n,T2,x,2024-03-01 10:00:00,2,1.00,1.5,true\n,T3,x,2024-03-01 10:00:00,2,1.00,1.5,true\n`,
    ],
  ])('is quarantined with its reason, not dropped as a repeat of another keyless one (%s)', async (_, key, body) => {
    await lake.putRaw(key, body);
    const run = await ingestObject(lake.deps(), { key });
    expect(run).toMatchObject({ status: 'SUCCEEDED', rowsRead: 3, rowsWritten: 1, rowsRejected: 2, rowsDuplicate: 0 });
    const q = await lake.quarantine(run.quarantineKey!);
    expect(q.map((r) => [r.line, r.reason])).toEqual([
      [key.endsWith('.csv') ? 3 : 2, 'column "event_id": missing or null in the event key'],
      [key.endsWith('.csv') ? 4 : 3, 'column "event_id": missing or null in the event key'],
    ]);
  });

  it('of another source is not taken for a keyless one this source published', async () => {
    await lake.putRaw('events/2024/03/01/a.jsonl', jsonl(event(1), { ...event(5), event_id: null }));
    await lake.putRaw('events/2024/03/01/b.jsonl', jsonl({ ...event(2), event_id: null }, event(3)));
    const a = await ingestObject(lake.deps(), { key: 'events/2024/03/01/a.jsonl' });
    expect(a).toMatchObject({ rowsWritten: 1, rowsRejected: 1, rowsDuplicate: 0 });
    const b = await ingestObject(lake.deps(), { key: 'events/2024/03/01/b.jsonl' });
    expect(b).toMatchObject({ rowsWritten: 1, rowsRejected: 1, rowsDuplicate: 0 });
  });
});
