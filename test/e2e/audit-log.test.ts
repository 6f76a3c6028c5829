import { Command } from 'commander';
import { registerKeyCommands } from '../../src/commands/keys.js';
import { GetExportDocument } from '../../src/generated/graphql.js';
import { GraphQLTestClient } from '../support/graphql-client.js';
import { type PolicyApi, startLocalPolicyApi } from '../support/policy-api.js';

/**
 * The audit trail of a whole session: a key created at the command line, exports requested (new, reused,
 * refused), a download, denied access of every kind, failed sign-ins, the key revoked. Every event has its one
 * structured line; no line of the log (audit or not) holds an API key, a token, a signed URL or a masked value.
 */

interface AuditLine {
  event: string;
  who: { id: string; name: string; role: string } | null;
  what: Record<string, unknown>;
  when: string;
  outcome: string;
  reason?: string;
}

let api: PolicyApi;

beforeAll(async () => {
  api = await startLocalPolicyApi();
}, 120_000);

afterAll(async () => {
  await api?.stop();
});

/** `careplus keys <args>` against the server's lake, logging to the server's log; returns stdout. */
async function keysCommand(...args: string[]): Promise<string> {
  const out: string[] = [];
  const program = new Command('careplus').exitOverride();
  registerKeyCommands(program, (fn) => fn({ store: api.store, config: api.config, logger: api.logger }), {
    out: (t) => out.push(t),
    err: () => undefined,
  });
  await program.parseAsync(['node', 'careplus', 'keys', ...args]);
  return out.join('');
}

function auditLines(): AuditLine[] {
  return api.logLines
    .map((l) => JSON.parse(l) as { msg: string; audit?: AuditLine })
    .filter((l) => l.msg === 'audit')
    .map((l) => l.audit!);
}

describe('the audit log of a session', () => {
  it('has one line per event and never a key, token, signed URL or masked value', async () => {
    const key = (await keysCommand('create', '--name', 'session analyst', '--role', 'analyst')).trim();
    const keyId = key.slice('cpk_'.length, 'cpk_'.length + 16);
    const analyst = new GraphQLTestClient(api.graphqlUrl, { authorization: `Bearer ${key}` });

    // A request whose values are secrets themselves: a predicate value is never logged.
    const input = {
      dataset: 'cases',
      columns: ['id', 'customer', 'note'],
      where: [{ column: 'section', op: 'EQ', values: [`First ${api.keys.admin}`] }],
    };
    const mutation = 'mutation ($input: ExportRequestInput!) { requestExport(input: $input) { id } }';
    const first = await analyst.raw<{ requestExport: { id: string } }>(mutation, { input });
    expect(first.errors).toBeUndefined();
    const jobId = first.data!.requestExport.id;
    const again = await analyst.raw<{ requestExport: { id: string } }>(mutation, { input });
    expect(again.data!.requestExport.id).toBe(jobId);
    const unfiltered = await analyst.raw<{ requestExport: { id: string } }>(mutation, {
      input: { dataset: 'cases', orderBy: [{ column: 'id' }] },
    });
    expect(unfiltered.errors).toBeUndefined();

    // Download the unfiltered export through its signed link: it holds the masked customers (hashed).
    let job = (await analyst.request(GetExportDocument, { id: unfiltered.data!.requestExport.id })).data!.export;
    while (job.status === 'QUEUED' || job.status === 'RUNNING') {
      await new Promise((resolve) => setTimeout(resolve, 25));
      job = (await analyst.request(GetExportDocument, { id: job.id })).data!.export;
    }
    const url = job.result!.files[0]!.url!;
    const download = await fetch(url);
    expect(download.status).toBe(200);
    const csv = await download.text();
    const hashed = csv.split('\n')[1]!.split(',')[2]!;
    expect(hashed).toMatch(/^[0-9a-f]{64}$/);

    // Denied: a hidden dataset, a capability, a masked column in a filter; failed sign-ins.
    expect((await analyst.raw('{ dataset(name: "secret_audit") { name } }')).errors![0]!.extensions!.code).toBe(
      'NOT_FOUND',
    );
    const viewer = api.client('viewer');
    expect((await viewer.raw('{ dataset(name: "cases") { preview { rows } } }')).errors![0]!.extensions!.code).toBe(
      'FORBIDDEN',
    );
    const masked = await analyst.raw(mutation, {
      input: { dataset: 'cases', where: [{ column: 'customer', op: 'EQ', values: ['Alice Corp'] }] },
    });
    expect(masked.errors![0]!.extensions!.code).toBe('BAD_USER_INPUT');
    const wrongSecret = `${key.slice(0, -4)}${key.endsWith('AAAA') ? 'BBBB' : 'AAAA'}`;
    const refused = new GraphQLTestClient(api.graphqlUrl, { authorization: `Bearer ${wrongSecret}` });
    expect((await refused.raw('{ me { id } }')).status).toBe(401);
    const jwtLike = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl';
    const forged = new GraphQLTestClient(api.graphqlUrl, { authorization: `Bearer ${jwtLike}` });
    expect((await forged.raw('{ me { id } }')).status).toBe(401);

    await keysCommand('revoke', keyId);

    const who = { id: `key:${keyId}`, name: 'session analyst', role: 'analyst' };
    const lines = auditLines();
    expect(lines.map((l) => [l.event, l.outcome, l.reason ?? null])).toEqual([
      ['key.created', 'accepted', null],
      ['export.requested', 'accepted', null],
      ['export.requested', 'reused', null],
      ['export.requested', 'accepted', null],
      ['access.denied', 'denied', 'dataset not visible'],
      ['access.denied', 'denied', 'lacks canPreview'],
      ['export.requested', 'refused', null],
      ['auth.failed', 'failed', 'mismatch'],
      ['auth.failed', 'failed', 'jwt-disabled'],
      ['key.revoked', 'accepted', null],
    ]);
    expect(lines[1]).toEqual({
      event: 'export.requested',
      who,
      what: {
        dataset: 'cases',
        columns: ['id', 'customer', 'note'],
        where: [{ column: 'section', op: 'EQ' }],
        jobId,
        engine: 'duckdb',
      },
      when: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      outcome: 'accepted',
    });
    expect(lines[4]).toMatchObject({ who, what: { action: 'dataset', dataset: 'secret_audit' } });
    expect(lines[5]).toMatchObject({
      who: { id: expect.stringMatching(/^key:/), name: 'viewer key', role: 'viewer' },
      what: { action: 'preview', dataset: 'cases' },
    });
    expect(lines[6]).toMatchObject({ who, what: { dataset: 'cases', code: 'BAD_USER_INPUT' } });
    expect(lines[7]).toMatchObject({ who: null, what: { via: 'api-key', keyId } });

    const log = api.logLines.join('\n');
    const secrets = [
      key,
      key.slice(4 + 16 + 1),
      wrongSecret,
      jwtLike,
      ...Object.values(api.keys),
      ...Object.values(api.keys).map((k) => k.slice(4 + 16 + 1)),
      url,
      new URL(url).searchParams.get('sig')!,
      'Alice Corp',
      hashed,
    ];
    for (const secret of secrets) expect({ secret, found: log.includes(secret) }).toEqual({ secret, found: false });
    // The key id is not a secret: the audit log names keys by it.
    expect(log).toContain(keyId);
  });
});
