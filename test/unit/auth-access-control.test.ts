import { join } from 'node:path';
import { JsonLogger } from '../../src/adapters/local/json-logger.js';
import { AccessControl } from '../../src/auth/access-control.js';
import { AuditLog } from '../../src/auth/audit-log.js';
import { ForbiddenError } from '../../src/auth/auth-errors.js';
import { loadPolicy, parsePolicyText } from '../../src/auth/policy.js';
import { NotFoundError } from '../../src/domain/errors.js';
import type { TableDefinition } from '../../src/domain/table.js';
import { caller, REPO_ROOT, shippedTables } from '../support/policy-tables.js';

describe('AccessControl', () => {
  let access: AccessControl;
  let tables: TableDefinition[];
  let lines: string[];
  beforeEach(async () => {
    lines = [];
    const audit = new AuditLog(new JsonLogger('info', (l) => lines.push(l)));
    access = new AccessControl(await loadPolicy(join(REPO_ROOT, 'policy.yaml')), audit);
    tables = Object.values(await shippedTables()).sort((a, b) => a.name.localeCompare(b.name));
  });

  it('answers a hidden dataset exactly as a missing one, and audits only the hidden one', () => {
    const support = caller('first_level_support');
    const errorOf = (name: string, table: TableDefinition | undefined): unknown => {
      try {
        access.requireDataset(support, name, table, 'dataset');
      } catch (err) {
        return err;
      }
      return undefined;
    };
    const hidden = errorOf(
      'helpdesk_events',
      tables.find((t) => t.name === 'helpdesk_events'),
    );
    const missing = errorOf('helpdesk_events', undefined);
    expect(hidden).toEqual(new NotFoundError('dataset "helpdesk_events" not found'));
    expect(missing).toEqual(hidden);
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!).audit).toMatchObject({
      event: 'access.denied',
      what: { action: 'dataset', dataset: 'helpdesk_events' },
      reason: 'dataset not visible',
    });
    const visible = access.requireDataset(
      support,
      'support_events',
      tables.find((t) => t.name === 'support_events'),
      'x',
    );
    expect(visible.grant.rowFilter).toEqual([{ column: 'support_section', op: 'EQ', values: ['First level'] }]);
  });

  it('lists only visible datasets, before any pagination', () => {
    expect(access.visible(caller('admin'), tables).map((v) => v.table.name)).toEqual([
      'helpdesk_events',
      'support_events',
    ]);
    expect(access.visible(caller('first_level_support'), tables).map((v) => v.table.name)).toEqual(['support_events']);
    expect(access.visible(caller('section_lead'), tables)).toEqual([]);
    expect(access.datasetNameVisible(caller('first_level_support'), 'helpdesk_events')).toBe(false);
    expect(access.datasetNameVisible(caller('viewer'), 'anything_new')).toBe(true);
  });

  it('refuses a missing capability with FORBIDDEN naming the role, and audits it', () => {
    expect(() => access.requireCapability(caller('viewer'), 'canExport', 'requestExport', 'support_events')).toThrow(
      new ForbiddenError('your role "viewer" may not export data'),
    );
    expect(() => access.requireCapability(caller('analyst'), 'canExport', 'requestExport')).not.toThrow();
    expect(lines.map((l) => JSON.parse(l).audit.reason)).toEqual(['lacks canExport']);
  });

  it('describes the caller for `me`', () => {
    const me = access.describe(caller('first_level_support'), tables);
    expect(me.role).toBe('first_level_support');
    expect(me.capabilities.canPreview).toBe(true);
    expect(me.datasets).toHaveLength(1);
    expect(me.datasets[0]).toMatchObject({
      dataset: 'support_events',
      maskedColumns: [
        { column: 'customer', method: 'redact' },
        { column: 'reporter_email', method: 'redact' },
      ],
      rowFilter: [{ column: 'support_section', op: 'EQ', values: ['First level'] }],
    });
    expect(me.datasets[0]!.columns).not.toContain('billable_amount');
    expect(me.datasets[0]!.hiddenRowFilters).toBe(0);
  });

  it('does not show row-filter predicates on a column the caller sees masked or not at all', () => {
    const policy = parsePolicyText(
      `version: 1
roles:
  desk:
    capabilities: {}
    datasets:
      - match: support_events
        deniedColumns: [support_section]
        maskedColumns: [{ column: customer, method: hash }]
        rowFilter:
          - { column: support_section, op: EQ, values: [Mobile] }
          - { column: customer, op: IN, values: [Acme, Globex] }
          - { column: priority, op: NE, values: [Low] }
`,
      'test policy',
    );
    const me = new AccessControl(policy, new AuditLog(new JsonLogger('silent'))).describe(caller('desk'), tables);
    // The hidden column's name and the masked column's values in clear would show what the policy hides.
    expect(me.datasets[0]).toMatchObject({
      dataset: 'support_events',
      rowFilter: [{ column: 'priority', op: 'NE', values: ['Low'] }],
      hiddenRowFilters: 2,
    });
    expect(JSON.stringify(me)).not.toMatch(/Mobile|Acme|Globex|support_section/);
  });
});
