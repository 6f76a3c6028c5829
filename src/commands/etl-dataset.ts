import type { Runtime } from '../composition.js';
import type { DatasetDefinition } from '../domain/dataset-definition.js';
import { BadInputError, NotFoundError } from '../domain/errors.js';

/**
 * The definition of a dataset the ETL writes, for `careplus ingest` and `careplus compact`. A name that is a catalog
 * table without a definition (one `careplus register` made, say) is listed by `careplus datasets`, so it is refused as
 * such, not as an unknown dataset.
 */
export async function etlDataset(
  rt: Pick<Runtime, 'registry' | 'catalog' | 'config'>,
  name: string,
  action: string,
): Promise<DatasetDefinition> {
  try {
    return rt.registry.get(name);
  } catch (err) {
    if (!(err instanceof NotFoundError)) throw err;
    const table = await rt.catalog.getTable(name);
    if (table === undefined) throw err;
    const what =
      table.origin === 'etl'
        ? `dataset "${name}" has no definition (its table was written from one no longer in the folder)`
        : `dataset "${name}" is a ${table.origin} table, not one the ETL writes`;
    const defined = rt.registry.list().map((d) => d.name);
    throw new BadInputError(
      `${what}: only the datasets defined in ${rt.config.datasetsDir} (${defined.join(', ')}) can be ${action}`,
    );
  }
}
