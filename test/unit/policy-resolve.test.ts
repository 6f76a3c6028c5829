import { join } from 'node:path';
import { parsePolicyText, loadPolicy } from '../../src/auth/policy.js';
import type { EffectiveGrant } from '../../src/domain/export-grant.js';
import { type AccessPolicy, resolveGrant } from '../../src/domain/policy.js';
import type { TableDefinition } from '../../src/domain/table.js';
import { caller, col, REPO_ROOT, shippedTables, tableOf } from '../support/policy-tables.js';

const SUPPORT_ALL = [
  'event_id',
  'ticket_id',
  'activity',
  'resource',
  'event_time',
  'seriousness',
  'priority',
  'customer',
  'reporter_email',
  'product',
  'service_level',
  'support_section',
  'workgroup',
  'duration_days',
  'billable_amount',
  'event_date',
];
const HELPDESK_ALL = [
  'case_id',
  'activity',
  'resource',
  'complete_timestamp',
  'variant',
  'variant_index',
  'variant_1',
  'seriousness',
  'customer',
  'product',
  'responsible_section',
  'seriousness_2',
  'service_level',
  'service_type',
  'support_section',
  'workgroup',
  'duration',
  'event_id',
  'event_date',
];
const without = (all: string[], ...names: string[]): string[] => all.filter((c) => !names.includes(c));

/** A table no shipped rule names specifically, without a support_section column. */
const LEDGER = tableOf('billing_ledger', [col('invoice_id'), col('amount', { type: 'double', kind: 'double' })]);

describe('resolveGrant with the shipped policy.yaml and dataset definitions', () => {
  let policy: AccessPolicy;
  let tables: Record<string, TableDefinition>;
  beforeAll(async () => {
    policy = await loadPolicy(join(REPO_ROOT, 'policy.yaml'));
    tables = { ...(await shippedTables()), billing_ledger: LEDGER };
  });

  const cases: {
    role: string;
    attributes?: Record<string, string>;
    dataset: string;
    expected: EffectiveGrant | undefined;
  }[] = [
    {
      role: 'admin',
      dataset: 'support_events',
      expected: { allowedColumns: SUPPORT_ALL, maskedColumns: [], rowFilter: [] },
    },
    {
      role: 'admin',
      dataset: 'helpdesk_events',
      expected: { allowedColumns: HELPDESK_ALL, maskedColumns: [], rowFilter: [] },
    },
    {
      role: 'admin',
      dataset: 'billing_ledger',
      expected: { allowedColumns: ['invoice_id', 'amount'], maskedColumns: [], rowFilter: [] },
    },
    {
      role: 'analyst',
      dataset: 'support_events',
      expected: {
        allowedColumns: SUPPORT_ALL,
        maskedColumns: [
          { column: 'customer', method: 'hash' },
          { column: 'reporter_email', method: 'hash' },
        ],
        rowFilter: [],
      },
    },
    {
      role: 'analyst',
      dataset: 'helpdesk_events',
      expected: {
        allowedColumns: HELPDESK_ALL,
        maskedColumns: [{ column: 'customer', method: 'hash' }],
        rowFilter: [],
      },
    },
    {
      role: 'viewer',
      dataset: 'support_events',
      expected: {
        allowedColumns: without(SUPPORT_ALL, 'customer', 'reporter_email'),
        maskedColumns: [],
        rowFilter: [],
      },
    },
    {
      role: 'viewer',
      dataset: 'helpdesk_events',
      expected: { allowedColumns: without(HELPDESK_ALL, 'customer'), maskedColumns: [], rowFilter: [] },
    },
    {
      role: 'first_level_support',
      dataset: 'support_events',
      expected: {
        allowedColumns: without(SUPPORT_ALL, 'billable_amount'),
        maskedColumns: [
          { column: 'customer', method: 'redact' },
          { column: 'reporter_email', method: 'redact' },
        ],
        rowFilter: [{ column: 'support_section', op: 'EQ', values: ['First level'] }],
      },
    },
    { role: 'first_level_support', dataset: 'helpdesk_events', expected: undefined },
    { role: 'first_level_support', dataset: 'billing_ledger', expected: undefined },
    {
      role: 'section_lead',
      attributes: { section: 'Mobile' },
      dataset: 'support_events',
      expected: {
        allowedColumns: SUPPORT_ALL,
        maskedColumns: [
          { column: 'customer', method: 'hash' },
          { column: 'reporter_email', method: 'hash' },
        ],
        rowFilter: [{ column: 'support_section', op: 'EQ', values: ['Mobile'] }],
      },
    },
    {
      role: 'section_lead',
      attributes: { section: 'Value 3' },
      dataset: 'helpdesk_events',
      expected: {
        allowedColumns: HELPDESK_ALL,
        maskedColumns: [{ column: 'customer', method: 'hash' }],
        rowFilter: [{ column: 'support_section', op: 'EQ', values: ['Value 3'] }],
      },
    },
    { role: 'section_lead', attributes: { section: 'Mobile' }, dataset: 'billing_ledger', expected: undefined },
    // Without the attribute its row filter needs, the role sees nothing rather than everything.
    { role: 'section_lead', dataset: 'support_events', expected: undefined },
    { role: 'section_lead', dataset: 'helpdesk_events', expected: undefined },
    { role: 'no_such_role', dataset: 'support_events', expected: undefined },
  ];

  it.each(cases)('$role with attributes $attributes on $dataset', ({ role, attributes, dataset, expected }) => {
    expect(resolveGrant(policy, caller(role, attributes ?? {}), tables[dataset]!)).toEqual(expected);
  });

  it('defines the roles the README and the CLI name', () => {
    expect([...policy.roles.keys()]).toEqual(['admin', 'analyst', 'viewer', 'first_level_support', 'section_lead']);
    expect(policy.roles.get('viewer')!.capabilities).toEqual({
      admin: false,
      canExport: false,
      canPreview: false,
      canSeeStats: true,
      canSeePipeline: false,
      canUseGraphiql: false,
    });
    expect(policy.roles.get('analyst')!.capabilities.canExport).toBe(true);
  });
});

describe('resolveGrant rules', () => {
  const people = tableOf(
    'crm_people',
    [
      col('person_id'),
      col('email', { pii: true }),
      col('phone', { pii: true }),
      col('region'),
      col('score', { kind: 'int', type: 'int' }),
    ],
    [col('load_date', { type: 'date', kind: 'date' })],
  );
  const crmOrders = tableOf('crm_orders', [col('order_id'), col('owner'), col('region')]);
  const policy = parsePolicyText(
    `
version: 1
roles:
  ops:
    datasets:
      - { match: crm_people, allowedColumns: [person_id, 'e*', region], deniedColumns: [region], pii: allow }
      - { match: 'crm_*', allowedColumns: '*', maskedColumns: [{ column: owner, method: redact }] }
  masker:
    datasets:
      - match: [crm_people]
        pii: hash
        maskedColumns: [{ column: phone, method: redact }, { column: 'p*', method: hash }]
        deniedColumns: [load_date]
  owner:
    datasets:
      - { match: crm_orders, rowFilter: [{ column: owner, op: EQ, values: [$caller.id] }] }
  regional:
    datasets:
      - { match: crm_orders, rowFilter: [{ column: region, op: IN, values: [$caller.attributes.regions, 'global'] }] }
  single_region:
    datasets:
      - { match: crm_orders, rowFilter: [{ column: region, op: EQ, values: [$caller.attributes.regions] }] }
  broken:
    datasets:
      - { match: '*', rowFilter: [{ column: tenant, op: EQ, values: [$$caller.id] }] }
  scored:
    datasets:
      - match: crm_people
        rowFilter:
          - { column: score, op: IN, values: [$caller.attributes.scores] }
          - { column: load_date, op: GTE, values: [$caller.attributes.since] }
`,
    'rules.yaml',
  );

  it('uses the first rule that names the dataset, a deny beating an allow-list glob', () => {
    expect(resolveGrant(policy, caller('ops'), people)).toEqual({
      allowedColumns: ['person_id', 'email'],
      maskedColumns: [],
      rowFilter: [],
    });
    expect(resolveGrant(policy, caller('ops'), crmOrders)).toEqual({
      allowedColumns: ['order_id', 'owner', 'region'],
      maskedColumns: [{ column: 'owner', method: 'redact' }],
      rowFilter: [],
    });
  });

  it('masks by the first named entry before the PII handling, and hides a denied partition key', () => {
    expect(resolveGrant(policy, caller('masker'), people)).toEqual({
      allowedColumns: ['person_id', 'email', 'phone', 'region', 'score'],
      maskedColumns: [
        { column: 'person_id', method: 'hash' },
        { column: 'email', method: 'hash' },
        { column: 'phone', method: 'redact' },
      ],
      rowFilter: [],
    });
  });

  it('substitutes $caller.id and spreads a list attribute into IN', () => {
    expect(resolveGrant(policy, caller('owner', {}, 'abc'), crmOrders)?.rowFilter).toEqual([
      { column: 'owner', op: 'EQ', values: ['key:abc'] },
    ]);
    expect(resolveGrant(policy, caller('regional', { regions: ['EU', 'APAC'] }), crmOrders)?.rowFilter).toEqual([
      { column: 'region', op: 'IN', values: ['EU', 'APAC', 'global'] },
    ]);
  });

  it('fails closed when a list attribute meets a one-value operator, or the filter column is missing', () => {
    expect(resolveGrant(policy, caller('single_region', { regions: ['EU', 'APAC'] }), crmOrders)).toBeUndefined();
    expect(resolveGrant(policy, caller('single_region', { regions: 'EU' }), crmOrders)?.rowFilter).toEqual([
      { column: 'region', op: 'EQ', values: ['EU'] },
    ]);
    expect(resolveGrant(policy, caller('broken'), crmOrders)).toBeUndefined();
  });

  it("fails closed when a caller's attribute is not of the filter column's type", () => {
    const scored = (attributes: Record<string, string | string[]>): EffectiveGrant | undefined =>
      resolveGrant(policy, caller('scored', attributes), people);
    expect(scored({ scores: ['7', '9'], since: '2024-02-29' })?.rowFilter).toEqual([
      { column: 'score', op: 'IN', values: ['7', '9'] },
      { column: 'load_date', op: 'GTE', values: ['2024-02-29'] },
    ]);
    expect(scored({ scores: 'high', since: '2024-02-29' })).toBeUndefined();
    expect(scored({ scores: ['7', 'high'], since: '2024-02-29' })).toBeUndefined();
    expect(scored({ scores: '7', since: '2023-02-29' })).toBeUndefined();
  });

  it('reads $$ as a literal dollar sign', () => {
    const withTenant = tableOf('crm_tenants', [col('tenant')]);
    expect(resolveGrant(policy, caller('broken'), withTenant)?.rowFilter).toEqual([
      { column: 'tenant', op: 'EQ', values: ['$caller.id'] },
    ]);
  });
});
