import { readdir, readFile } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { type DatasetDefinition, parseDatasetDefinition } from '../domain/dataset-definition.js';
import { DefinitionError, NotFoundError } from '../domain/errors.js';

/**
 * The declared datasets: every `*.yaml`, `*.yml` or `*.json` file in the definitions folder, validated at
 * load time. A bad file fails the load with a message naming the file and field.
 */
export class DatasetRegistry {
  private constructor(private readonly byName: Map<string, DatasetDefinition>) {}

  static async load(dir: string): Promise<DatasetRegistry> {
    let files: string[];
    try {
      files = (await readdir(dir)).filter((f) => ['.yaml', '.yml', '.json'].includes(extname(f))).sort();
    } catch (err) {
      throw new DefinitionError(`cannot read dataset definitions folder ${dir}: ${(err as Error).message}`, {
        cause: err,
      });
    }
    const defs: DatasetDefinition[] = [];
    const fileOf = new Map<string, string>();
    for (const f of files) {
      const text = await readFile(join(dir, f), 'utf8');
      let doc: unknown;
      try {
        doc = extname(f) === '.json' ? JSON.parse(text) : parseYaml(text);
      } catch (err) {
        throw new DefinitionError(
          `${f}: not valid ${extname(f) === '.json' ? 'JSON' : 'YAML'}: ${(err as Error).message}`,
          { cause: err },
        );
      }
      if (doc === null || doc === undefined) {
        // As `careplus datasets infer > datasets/x.yaml` leaves it when the command fails (the shell made the file).
        throw new DefinitionError(
          `${f}: the file is empty (in ${dir}): a definition is a YAML mapping (name, formats, columns, ...); fill it or remove it`,
        );
      }
      const def = parseDatasetDefinition(doc, f);
      const first = fileOf.get(def.name);
      if (first !== undefined) {
        throw new DefinitionError(
          `${f}: name: dataset "${def.name}" is defined in ${first} too: each dataset has one definition file`,
        );
      }
      const sharing = defs.find((d) => d.rawPrefix === def.rawPrefix);
      if (sharing !== undefined) {
        throw new DefinitionError(
          `${f}: rawPrefix: ${JSON.stringify(def.rawPrefix)} is the raw prefix of dataset "${sharing.name}" ` +
            `(${fileOf.get(sharing.name)}) too: a raw file goes to one dataset, so each needs a prefix of its own`,
        );
      }
      fileOf.set(def.name, f);
      defs.push(def);
    }
    return DatasetRegistry.of(defs);
  }

  static of(defs: DatasetDefinition[]): DatasetRegistry {
    const byName = new Map<string, DatasetDefinition>();
    for (const d of defs) {
      if (byName.has(d.name)) throw new DefinitionError(`dataset "${d.name}" is defined twice`);
      byName.set(d.name, d);
    }
    return new DatasetRegistry(byName);
  }

  list(): DatasetDefinition[] {
    return [...this.byName.values()].sort((a, b) => (a.name < b.name ? -1 : 1));
  }

  find(name: string): DatasetDefinition | undefined {
    return this.byName.get(name);
  }

  get(name: string): DatasetDefinition {
    const d = this.byName.get(name);
    if (!d) throw new NotFoundError(`unknown dataset "${name}"`);
    return d;
  }

  /** The dataset whose raw prefix the key falls under (longest prefix wins), or undefined. */
  forRawKey(key: string): DatasetDefinition | undefined {
    let best: DatasetDefinition | undefined;
    for (const d of this.byName.values()) {
      if (key.startsWith(d.rawPrefix) && (best === undefined || d.rawPrefix.length > best.rawPrefix.length)) best = d;
    }
    return best;
  }
}
