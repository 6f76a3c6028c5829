import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { JsonLogger } from '../../src/adapters/local/json-logger.js';
import { LocalObjectStore } from '../../src/adapters/local/local-object-store.js';
import { ApiKeyStore } from '../../src/auth/key-store.js';
import { type KeyCommandRuntime, registerKeyCommands } from '../../src/commands/keys.js';
import { loadConfig } from '../../src/config.js';
import { BadInputError } from '../../src/domain/errors.js';

describe('careplus keys', () => {
  let root: string;
  let rt: KeyCommandRuntime;
  let out: string[];
  let err: string[];
  let logs: string[];
  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'careplus-keys-cli-'));
    logs = [];
    rt = {
      config: loadConfig({ CAREPLUS_LAKE_DIR: root }, root),
      store: new LocalObjectStore(root),
      logger: new JsonLogger('info', (l) => logs.push(l)),
    };
    out = [];
    err = [];
  });
  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  async function run(...args: string[]): Promise<void> {
    const program = new Command('careplus').exitOverride();
    registerKeyCommands(program, (fn) => fn(rt), { out: (t) => out.push(t), err: (t) => err.push(t) });
    await program.parseAsync(['node', 'careplus', 'keys', ...args]);
  }

  it('creates a key, printing it once on stdout, and lists and revokes it', async () => {
    await run('create', '--name', 'BI tool', '--role', 'section_lead', '--attribute', 'section=First level');
    expect(out).toHaveLength(1);
    const plaintext = out[0]!.trim();
    expect(plaintext).toMatch(/^cpk_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/);
    const id = plaintext.slice(4, 20);
    expect(err).toEqual([
      `created API key ${id} "BI tool" with role section_lead. Store the key above now: it is not shown again. ` +
        'Send it as "Authorization: Bearer <key>".\n',
    ]);
    const verified = await new ApiKeyStore(rt.store).verify(plaintext);
    expect(verified).toEqual({
      keyId: id,
      name: 'BI tool',
      role: 'section_lead',
      attributes: { section: 'First level' },
    });

    out = [];
    await run('list');
    expect(out[0]).toBe('id\tname\trole\tcreated\trevoked\tattributes\n');
    expect(out[1]).toMatch(
      new RegExp(`^${id}\\tBI tool\\tsection_lead\\t\\d{4}-\\d\\d-\\d\\dT[^\\t]+\\t-\\tsection=First level\\n$`),
    );
    expect(out.join('')).not.toContain(plaintext.slice(21));

    await run('revoke', id);
    expect(err[1]).toMatch(new RegExp(`^revoked API key ${id} "BI tool" at \\d{4}-`));
    await expect(new ApiKeyStore(rt.store).verify(plaintext)).rejects.toMatchObject({ reason: 'revoked' });
    // Again: said to be revoked already, with its first date, and not audited twice.
    await run('revoke', id);
    expect(err[2]).toBe(`API key ${id} "BI tool" was already revoked, at ${/ at (\S+)\n$/.exec(err[1]!)?.[1]}\n`);

    const audit = logs.map((l) => JSON.parse(l).audit);
    expect(audit.map((a) => [a.event, a.who.id, a.what.keyId])).toEqual([
      ['key.created', 'cli', id],
      ['key.revoked', 'cli', id],
    ]);
    expect(logs.join('\n')).not.toContain(plaintext.slice(21));
  });

  it('refuses a role the policy file does not define, naming the roles', async () => {
    await expect(run('create', '--name', 'x', '--role', 'superuser')).rejects.toThrow(
      new BadInputError(
        `--role: "superuser" is not a role of ${rt.config.auth.policyFile} (roles: admin, analyst, viewer, first_level_support, section_lead)`,
      ),
    );
    expect(await new ApiKeyStore(rt.store).list()).toEqual([]);
  });

  it('refuses a malformed attribute', async () => {
    await expect(run('create', '--name', 'x', '--role', 'viewer', '--attribute', 'novalue')).rejects.toThrow(
      new BadInputError('--attribute: expected name=value, got "novalue"'),
    );
  });

  it('refuses an attribute given twice instead of keeping only the last value', async () => {
    // A key has one value per attribute: `--attribute section=A --attribute section=B` created a key whose row
    // filters saw section B only, and said nothing.
    await expect(
      run('create', '--name', 'x', '--role', 'section_lead', '--attribute', 'section=A', '--attribute', 'section=B'),
    ).rejects.toThrow(
      new BadInputError('--attribute: "section" is given twice ("A" and "B"); an API key has one value per attribute'),
    );
    expect(await new ApiKeyStore(rt.store).list()).toEqual([]);
  });

  it('notes an attribute the role filters rows by that the key lacks, and one no row filter reads', async () => {
    // policy.yaml: section_lead sees support_events and helpdesk_events rows of its `section` only.
    await run('create', '--name', 'lead', '--role', 'section_lead', '--attribute', 'sectoin=First level');
    expect(out).toHaveLength(1);
    expect(err.slice(1)).toEqual([
      'note: role section_lead filters rows by the attribute "section", which this key lacks: it sees none of ' +
        'support_events, helpdesk_events (revoke it and create one with --attribute section=<value>)\n',
      'note: no row filter of role section_lead reads the attribute "sectoin": it has no effect (the role reads "section")\n',
    ]);
    err = [];
    await run('create', '--name', 'analyst', '--role', 'analyst', '--attribute', 'region=eu');
    expect(err.slice(1)).toEqual([
      'note: no row filter of role analyst reads the attribute "region": it has no effect\n',
    ]);
    // A key whose attributes are what its role reads gets no note.
    err = [];
    await run('create', '--name', 'lead 2', '--role', 'section_lead', '--attribute', 'section=First level');
    expect(err).toHaveLength(1);
  });

  it('says how to start when there are no keys', async () => {
    await run('list');
    expect(out).toEqual([]);
    expect(err).toEqual(['no API keys yet: create one with `careplus keys create --name N --role R`\n']);
  });
});
