import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { ConfigError } from '../domain/errors.js';
import { EXPORT_FILTER_OPS } from '../domain/export-request.js';
import {
  type AccessPolicy,
  CALLER_FIELDS,
  type CallerField,
  type DatasetRule,
  PII_HANDLINGS,
  type PolicyPredicate,
  type PolicyValue,
  type RolePolicy,
} from '../domain/policy.js';

/**
 * The policy file: YAML or JSON (by extension; `.json` is JSON, anything else YAML, which also reads JSON),
 * validated at start-up. Every error names the file and the field (`policy.yaml: roles.analyst.datasets.0.pii:
 * ...`) and is a ConfigError, so `careplus` prints it and exits with status 2 before serving anything.
 *
 * ```yaml
 * version: 1
 * roles:
 *   analyst:
 *     description: Everything, PII hashed.
 *     capabilities: { canExport: true, canPreview: true, canSeeStats: true }
 *     datasets:
 *       - match: '*'                      # names or globs; the first rule that matches decides
 *         allowedColumns: '*'             # or a list of names/globs
 *         deniedColumns: [reporter_email] # never shown
 *         maskedColumns: [{ column: resource, method: redact }]
 *         pii: hash                       # allow | hash | redact | deny (default deny) for PII columns
 *         rowFilter:                      # the export predicates; values may be $caller.id, $caller.subject,
 *           - { column: support_section, op: EQ, values: [$caller.attributes.section] } # $caller.name, ...
 * jwtRoles: { 'careplus-analysts': analyst } # JWT role-claim value → role
 * ```
 */

const ROLE_NAME = /^[a-z][a-z0-9_-]{0,63}$/;
/** Dataset and column names are safe names (lower case, digits, `_`); patterns add `*` and `?`. */
const NAME_PATTERN = /^[a-z0-9_*?]{1,128}$/;
const COLUMN_NAME = /^[a-z_][a-z0-9_]{0,127}$/;
const ATTRIBUTE_NAME = /^[A-Za-z_][A-Za-z0-9_:.-]{0,127}$/;

const pattern = (what: string) =>
  z.string().regex(NAME_PATTERN, `a ${what} name or glob is lower case letters, digits, _, * and ?`);

const scalar = z.union([z.string(), z.number(), z.boolean(), z.null()]);

const predicateSchema = z.strictObject({
  column: z.string().regex(COLUMN_NAME, 'a column name is lower case letters, digits and _'),
  op: z.enum(EXPORT_FILTER_OPS),
  values: z.array(scalar).default([]),
});

const ruleSchema = z.strictObject({
  match: z.union([pattern('dataset'), z.array(pattern('dataset')).min(1)]),
  allowedColumns: z.union([z.literal('*'), z.array(pattern('column'))]).default('*'),
  deniedColumns: z.array(pattern('column')).default([]),
  maskedColumns: z.array(z.strictObject({ column: pattern('column'), method: z.enum(['hash', 'redact']) })).default([]),
  pii: z.enum(PII_HANDLINGS).default('deny'),
  rowFilter: z.array(predicateSchema).default([]),
});

const capabilitiesSchema = z.strictObject({
  admin: z.boolean().default(false),
  canExport: z.boolean().default(false),
  canPreview: z.boolean().default(false),
  canSeeStats: z.boolean().default(false),
  canSeePipeline: z.boolean().default(false),
  canUseGraphiql: z.boolean().default(false),
});

const roleSchema = z.strictObject({
  description: z.string().default(''),
  capabilities: capabilitiesSchema.prefault({}),
  datasets: z.array(ruleSchema).default([]),
});

const policySchema = z.strictObject({
  version: z.literal(1),
  roles: z.record(z.string(), roleSchema).refine((r) => Object.keys(r).length > 0, 'define at least one role'),
  jwtRoles: z.record(z.string().min(1), z.string()).default({}),
});

/** Validates a parsed policy document; `origin` (the file name) is named in every error. */
export function parsePolicy(doc: unknown, origin: string): AccessPolicy {
  const parsed = policySchema.safeParse(doc);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const path = issue.path.length > 0 ? issue.path.map(String).join('.') : '(root)';
    throw new ConfigError(`${origin}: ${path}: ${issue.message}`);
  }
  const roles = new Map<string, RolePolicy>();
  for (const [name, role] of Object.entries(parsed.data.roles)) {
    // Checked here rather than as a record key schema: zod only says "Invalid key in record" there.
    if (!ROLE_NAME.test(name)) {
      throw new ConfigError(`${origin}: roles.${name}: a role name is lower case letters, digits, _ and -`);
    }
    roles.set(name, {
      name,
      description: role.description,
      capabilities: Object.freeze({ ...role.capabilities }),
      datasets: role.datasets.map((rule, i) => toRule(rule, `${origin}: roles.${name}.datasets.${i}`)),
    });
  }
  const jwtRoles = new Map<string, string>();
  for (const [claim, role] of Object.entries(parsed.data.jwtRoles)) {
    if (!roles.has(role)) throw new ConfigError(`${origin}: jwtRoles.${claim}: role "${role}" is not defined`);
    jwtRoles.set(claim, role);
  }
  return { source: origin, roles, jwtRoles };
}

/** Parses policy text; `.json` files as JSON, others as YAML. */
export function parsePolicyText(text: string, origin: string): AccessPolicy {
  let doc: unknown;
  try {
    doc = origin.toLowerCase().endsWith('.json') ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    throw new ConfigError(
      `${origin}: not valid ${origin.endsWith('.json') ? 'JSON' : 'YAML'}: ${(err as Error).message}`,
    );
  }
  return parsePolicy(doc, origin);
}

/** Reads and validates the policy file (config.auth.policyFile); errors name the file by its path. */
export async function loadPolicy(file: string): Promise<AccessPolicy> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ConfigError(
      code === 'ENOENT'
        ? `policy file not found: ${file} (set CAREPLUS_POLICY_FILE)`
        : `policy file ${file} cannot be read: ${(err as Error).message}`,
    );
  }
  return parsePolicyText(text, file);
}

type ParsedRule = z.output<typeof ruleSchema>;

function toRule(rule: ParsedRule, at: string): DatasetRule {
  return {
    match: typeof rule.match === 'string' ? [rule.match] : rule.match,
    allowedColumns: rule.allowedColumns,
    deniedColumns: rule.deniedColumns,
    maskedColumns: rule.maskedColumns,
    pii: rule.pii,
    rowFilter: rule.rowFilter.map((p, i) => toPredicate(p, `${at}.rowFilter.${i}`)),
  };
}

function toPredicate(p: z.output<typeof predicateSchema>, at: string): PolicyPredicate {
  const values = p.values.map((v, j) => toValue(v, `${at}.values.${j}`));
  const n = values.length;
  const arity =
    p.op === 'IS_NULL' || p.op === 'IS_NOT_NULL'
      ? n === 0 || `${p.op} takes no values`
      : p.op === 'IN'
        ? n >= 1 || 'IN needs at least one value'
        : p.op === 'BETWEEN'
          ? n === 2 || 'BETWEEN needs exactly 2 values'
          : n === 1 || `${p.op} needs exactly 1 value`;
  if (arity !== true) throw new ConfigError(`${at}.values: ${arity}, got ${n}`);
  return { column: p.column, op: p.op, values };
}

/**
 * A literal, or `$caller.<field>` / `$caller.attributes.<name>`. Any other text starting with `$` is refused
 * rather than read as a literal, so a misspelt reference cannot silently filter on the text itself; `$$` starts a
 * literal `$`.
 */
function toValue(v: string | number | boolean | null, at: string): PolicyValue {
  if (typeof v !== 'string' || !v.startsWith('$')) return { kind: 'literal', value: v };
  if (v.startsWith('$$')) return { kind: 'literal', value: v.slice(1) };
  const attribute = /^\$caller\.attributes\.(.+)$/.exec(v);
  if (attribute !== null) {
    if (!ATTRIBUTE_NAME.test(attribute[1]!)) throw new ConfigError(`${at}: "${v}" is not a valid attribute name`);
    return { kind: 'attribute', name: attribute[1]! };
  }
  const field = /^\$caller\.([a-z]+)$/.exec(v)?.[1];
  if (field !== undefined && (CALLER_FIELDS as readonly string[]).includes(field)) {
    return { kind: 'caller', field: field as CallerField };
  }
  throw new ConfigError(
    `${at}: unknown reference "${v}": expected $caller.${CALLER_FIELDS.join(', $caller.')} or ` +
      '$caller.attributes.<name> (write $$ for a literal $)',
  );
}
