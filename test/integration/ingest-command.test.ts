import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JsonLogger } from '../../src/adapters/local/json-logger.js';
import { ingest } from '../../src/commands/ingest.js';
import { createRuntime, type Runtime } from '../../src/composition.js';
import { testConfig } from '../support/test-config.js';

/**
 * `careplus ingest` with a path that is not a file says so, goes on with the others, and counts it as failed.
 * Before, it failed with the copy's ENOENT naming the lake's staging folder, and stopped.
 */
let root: string;
let rt: Runtime;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'careplus-ingest-cmd-'));
  rt = await createRuntime(testConfig(root), { logger: new JsonLogger('silent') });
});

afterAll(async () => {
  await rt.close();
  await rm(root, { recursive: true, force: true });
});

it('reports a missing file plainly and ingests the rest', async () => {
  const good = join(root, 'good.csv');
  await writeFile(
    good,
    'ticket_id,event_id,activity,timestamp,resource,priority,reporter_email,service_level,duration_days,billable_amount,seriousness,customer,product,support_section,workgroup\n',
  );
  const missing = join(root, 'no-such.csv');
  const lines: string[] = [];
  const write = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    lines.push(String(chunk));
    return true;
  });
  let failed: number;
  try {
    failed = await ingest(rt, [missing, root, good], 'support_events');
  } finally {
    write.mockRestore();
  }
  expect(lines[0]).toBe(`${missing}: FAILED not_found: no such file\n`);
  // A folder exists: it is not "no such file".
  expect(lines[1]).toBe(`${root}: FAILED not_a_file: a folder; pass the files in it\n`);
  expect(lines[2]).toMatch(new RegExp(`^${good.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: `));
  expect(lines.join('')).not.toContain('.staging');
  expect(failed).toBe(3);
});
