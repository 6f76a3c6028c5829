import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadPolicy, parsePolicyText } from '../../src/auth/policy.js';
import { ConfigError } from '../../src/domain/errors.js';
import { REPO_ROOT } from '../support/policy-tables.js';

const ROLE = (rule: string): string => `version: 1\nroles:\n  r:\n    datasets:\n      - ${rule}\n`;

describe('policy file validation', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'careplus-policy-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('loads the shipped policy.yaml', async () => {
    const policy = await loadPolicy(join(REPO_ROOT, 'policy.yaml'));
    expect(policy.source).toBe(join(REPO_ROOT, 'policy.yaml'));
    expect(policy.roles.size).toBe(5);
    expect(policy.jwtRoles.size).toBe(0);
  });

  it('reads a JSON policy by its extension, with defaults applied', async () => {
    const file = join(dir, 'policy.json');
    await writeFile(
      file,
      JSON.stringify({
        version: 1,
        roles: { bi: { datasets: [{ match: 'sales_*' }] } },
        jwtRoles: { 'bi-users': 'bi' },
      }),
    );
    const policy = await loadPolicy(file);
    expect(policy.roles.get('bi')).toEqual({
      name: 'bi',
      description: '',
      capabilities: {
        admin: false,
        canExport: false,
        canPreview: false,
        canSeeStats: false,
        canSeePipeline: false,
        canUseGraphiql: false,
      },
      datasets: [
        { match: ['sales_*'], allowedColumns: '*', deniedColumns: [], maskedColumns: [], pii: 'deny', rowFilter: [] },
      ],
    });
    expect([...policy.jwtRoles]).toEqual([['bi-users', 'bi']]);
  });

  it('names the file when it is missing or not valid YAML', async () => {
    const missing = join(dir, 'nope.yaml');
    await expect(loadPolicy(missing)).rejects.toThrow(
      new ConfigError(`policy file not found: ${missing} (set CAREPLUS_POLICY_FILE)`),
    );
    const bad = join(dir, 'bad.yaml');
    await writeFile(bad, 'roles: [unclosed\n');
    await expect(loadPolicy(bad)).rejects.toThrow(new RegExp(`^${bad.replace(/[.\\/]/g, '\\$&')}: not valid YAML: `));
  });

  const invalid: [string, string, string][] = [
    [
      'an unknown top-level key',
      'version: 1\nroles: { r: {} }\nrole: {}\n',
      'p.yaml: (root): Unrecognized key: "role"',
    ],
    ['a wrong version', 'version: 2\nroles: { r: {} }\n', 'p.yaml: version: Invalid input: expected 1'],
    ['no roles', 'version: 1\nroles: {}\n', 'p.yaml: roles: define at least one role'],
    [
      'an upper-case role name',
      'version: 1\nroles: { Admin: {} }\n',
      'p.yaml: roles.Admin: a role name is lower case letters, digits, _ and -',
    ],
    [
      'a misspelt rule field',
      ROLE("{ match: '*', deniedColumn: [x] }"),
      'p.yaml: roles.r.datasets.0: Unrecognized key: "deniedColumn"',
    ],
    [
      'an unknown PII handling',
      ROLE("{ match: '*', pii: mask }"),
      'p.yaml: roles.r.datasets.0.pii: Invalid option: expected one of "allow"|"hash"|"redact"|"deny"',
    ],
    [
      'an unknown mask method',
      ROLE("{ match: '*', maskedColumns: [{ column: a, method: blur }] }"),
      'p.yaml: roles.r.datasets.0.maskedColumns.0.method: Invalid option: expected one of "hash"|"redact"',
    ],
    [
      'a dataset pattern with upper case',
      ROLE('{ match: Sales }'),
      'p.yaml: roles.r.datasets.0.match: a dataset name or glob is lower case letters, digits, _, * and ?',
    ],
    [
      'an unknown operator',
      ROLE("{ match: '*', rowFilter: [{ column: a, op: LIKE, values: [x] }] }"),
      'p.yaml: roles.r.datasets.0.rowFilter.0.op: Invalid option: expected one of "EQ"|"NE"|"LT"|"LTE"|"GT"|"GTE"|"IN"|"BETWEEN"|"IS_NULL"|"IS_NOT_NULL"|"CONTAINS"|"STARTS_WITH"',
    ],
    [
      'a misspelt caller reference',
      ROLE("{ match: '*', rowFilter: [{ column: a, op: EQ, values: [$caler.id] }] }"),
      'p.yaml: roles.r.datasets.0.rowFilter.0.values.0: unknown reference "$caler.id": expected $caller.id, $caller.subject, $caller.name, $caller.role or $caller.attributes.<name> (write $$ for a literal $)',
    ],
    [
      'an unknown caller field',
      ROLE("{ match: '*', rowFilter: [{ column: a, op: EQ, values: [$caller.email] }] }"),
      'p.yaml: roles.r.datasets.0.rowFilter.0.values.0: unknown reference "$caller.email": expected $caller.id, $caller.subject, $caller.name, $caller.role or $caller.attributes.<name> (write $$ for a literal $)',
    ],
    [
      'BETWEEN with one value',
      ROLE("{ match: '*', rowFilter: [{ column: a, op: BETWEEN, values: [1] }] }"),
      'p.yaml: roles.r.datasets.0.rowFilter.0.values: BETWEEN needs exactly 2 values, got 1',
    ],
    [
      'IS_NULL with a value',
      ROLE("{ match: '*', rowFilter: [{ column: a, op: IS_NULL, values: [1] }] }"),
      'p.yaml: roles.r.datasets.0.rowFilter.0.values: IS_NULL takes no values, got 1',
    ],
    [
      'a JWT role mapping to an undefined role',
      'version: 1\nroles: { r: {} }\njwtRoles: { admins: admin }\n',
      'p.yaml: jwtRoles.admins: role "admin" is not defined',
    ],
  ];

  it.each(invalid)('refuses %s, naming the file and the field', (_what, text, message) => {
    expect(() => parsePolicyText(text, 'p.yaml')).toThrow(new ConfigError(message));
  });
});
