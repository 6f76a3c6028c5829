import type { Command } from 'commander';
import { AuditLog } from '../auth/audit-log.js';
import { ApiKeyStore } from '../auth/key-store.js';
import { loadPolicy } from '../auth/policy.js';
import type { Runtime } from '../composition.js';
import type { RolePolicy } from '../domain/policy.js';
import { BadInputError } from '../domain/errors.js';

/** What the key commands need of the runtime: the lake, the configuration (policy file) and the logger. */
export type KeyCommandRuntime = Pick<Runtime, 'store' | 'config' | 'logger'>;

export type WithKeyRuntime = <T>(fn: (rt: KeyCommandRuntime) => Promise<T>) => Promise<T>;

export interface KeyCommandOutput {
  /** Command output (the key itself, the listing): stdout by default. */
  out: (text: string) => void;
  /** Notes for the person at the terminal: stderr by default. */
  err: (text: string) => void;
}

const STDIO: KeyCommandOutput = {
  out: (text) => void process.stdout.write(text),
  err: (text) => void process.stderr.write(text),
};

/** The operator at the command line, as the audit log names them. */
const OPERATOR = { id: 'cli', name: 'careplus keys', role: 'operator' };

/**
 * `careplus keys create|list|revoke`. The lead wires it with one line in src/cli.ts:
 * `registerKeyCommands(program, withRuntime);`
 */
export function registerKeyCommands(program: Command, withRuntime: WithKeyRuntime, io: KeyCommandOutput = STDIO): void {
  const keys = program.command('keys').description('Create, list and revoke API keys (stored as hashes in the lake).');

  keys
    .command('create')
    .description('Create an API key; it is printed once and cannot be shown again.')
    .requiredOption('--name <name>', 'who or what the key is for')
    .requiredOption('--role <role>', 'a role of the policy file')
    .option('--attribute <name=value>', 'a caller attribute for row filters (repeatable)', collect, [])
    .action(async (opts: { name: string; role: string; attribute: string[] }) => {
      await withRuntime(async (rt) => {
        const policy = await loadPolicy(rt.config.auth.policyFile);
        if (!policy.roles.has(opts.role)) {
          throw new BadInputError(
            `--role: "${opts.role}" is not a role of ${rt.config.auth.policyFile} (roles: ${[...policy.roles.keys()].join(', ')})`,
          );
        }
        const { key, plaintext } = await new ApiKeyStore(rt.store).create({
          name: opts.name,
          role: opts.role,
          attributes: parseAttributes(opts.attribute),
        });
        new AuditLog(rt.logger).keyCreated(OPERATOR, key);
        io.out(`${plaintext}\n`);
        io.err(
          `created API key ${key.id} "${key.name}" with role ${key.role}. ` +
            'Store the key above now: it is not shown again. Send it as "Authorization: Bearer <key>".\n',
        );
        for (const note of attributeNotes(policy.roles.get(opts.role)!, key.attributes)) io.err(`note: ${note}\n`);
      });
    });

  keys
    .command('list', { isDefault: true })
    .description('List API keys (ids, names, roles, dates; never the keys themselves).')
    .action(async () => {
      await withRuntime(async (rt) => {
        const list = await new ApiKeyStore(rt.store).list();
        if (list.length === 0) {
          io.err('no API keys yet: create one with `careplus keys create --name N --role R`\n');
          return;
        }
        io.out('id\tname\trole\tcreated\trevoked\tattributes\n');
        for (const k of list) {
          const attributes = Object.entries(k.attributes)
            .map(([n, v]) => `${n}=${v}`)
            .join(',');
          io.out(
            `${k.id}\t${k.name}\t${k.role}\t${k.createdAt}\t${k.revokedAt ?? '-'}\t${attributes === '' ? '-' : attributes}\n`,
          );
        }
      });
    });

  keys
    .command('revoke')
    .description('Revoke an API key by id; requests with it are refused from then on.')
    .argument('<id>', 'the key id (see `careplus keys list`)')
    .action(async (id: string) => {
      await withRuntime(async (rt) => {
        const store = new ApiKeyStore(rt.store);
        const before = (await store.list()).find((k) => k.id === id);
        const key = await store.revoke(id);
        if (before?.revokedAt != null) {
          io.err(`API key ${key.id} "${key.name}" was already revoked, at ${key.revokedAt}\n`);
          return;
        }
        new AuditLog(rt.logger).keyRevoked(OPERATOR, key);
        io.err(`revoked API key ${key.id} "${key.name}" at ${key.revokedAt}\n`);
      });
    });
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function parseAttributes(pairs: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new BadInputError(`--attribute: expected name=value, got "${pair}"`);
    const name = pair.slice(0, eq);
    const value = pair.slice(eq + 1);
    // Not the last one silently: a row filter would see only it.
    if (Object.hasOwn(out, name)) {
      throw new BadInputError(
        `--attribute: "${name}" is given twice ("${out[name]}" and "${value}"); an API key has one value per attribute`,
      );
    }
    out[name] = value;
  }
  return out;
}

/**
 * What a key's attributes do under its role: an attribute the role's row filters read but the key lacks leaves it
 * without the datasets those filters cover (the policy's rule: a caller without the attribute sees none of them), and
 * one no row filter reads does nothing. The key is made either way; the notes say so at once, rather than the
 * key's user finding no data.
 */
export function attributeNotes(role: RolePolicy, attributes: Readonly<Record<string, unknown>>): string[] {
  const read = new Map<string, Set<string>>();
  for (const rule of role.datasets) {
    for (const predicate of rule.rowFilter) {
      for (const value of predicate.values) {
        if (value.kind !== 'attribute') continue;
        const datasets = read.get(value.name) ?? new Set<string>();
        for (const m of rule.match) datasets.add(m);
        read.set(value.name, datasets);
      }
    }
  }
  const notes: string[] = [];
  for (const [name, datasets] of read) {
    if (name in attributes) continue;
    notes.push(
      `role ${role.name} filters rows by the attribute "${name}", which this key lacks: it sees none of ` +
        `${[...datasets].join(', ')} (revoke it and create one with --attribute ${name}=<value>)`,
    );
  }
  for (const name of Object.keys(attributes)) {
    if (read.has(name)) continue;
    notes.push(
      `no row filter of role ${role.name} reads the attribute "${name}": it has no effect` +
        (read.size === 0 ? '' : ` (the role reads ${[...read.keys()].map((n) => `"${n}"`).join(', ')})`),
    );
  }
  return notes;
}
