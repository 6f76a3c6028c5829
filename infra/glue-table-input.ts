import type { CfnTable } from 'aws-cdk-lib/aws-glue';
import { tableFromDefinition } from '../lambda/pipeline/catalog-schema.js';
import {
  P,
  PARQUET_INPUT_FORMAT,
  PARQUET_OUTPUT_FORMAT,
  PARQUET_SERDE,
} from '../src/adapters/aws/glue-table-mapping.js';
import { hiveType, parseColumnType } from '../src/domain/column-type.js';
import type { DatasetDefinition } from '../src/domain/dataset-definition.js';
import type { TableColumn } from '../src/domain/table.js';

/** Glue limits: table description 2048 characters, column comment 255 (full texts ride in Parameters). */
const MAX_DESCRIPTION = 2048;
const MAX_COMMENT = 255;

/**
 * The Glue table for one dataset definition, as the ETL itself declares it (`tableFromDefinition`: the declared
 * columns, the day partition key, the dataset's processed prefix), written in the Glue catalog adapter's format
 * (Hive types, Parquet SerDe, table `careplus.*` parameters). The ETL's schema check compares partition keys and
 * column types with what it finds here, so both must come from the same place.
 *
 * CloudFormation has no column parameters, so the per-column nullability and PII facts, and the schema version,
 * are added by the ETL's first `putTable` (an in-place UpdateTable).
 */
export function glueTableInput(def: DatasetDefinition, processedBucketName: string): CfnTable.TableInputProperty {
  const table = tableFromDefinition(def);
  return {
    name: table.name,
    description: table.description.slice(0, MAX_DESCRIPTION),
    tableType: 'EXTERNAL_TABLE',
    parameters: {
      EXTERNAL: 'TRUE',
      classification: 'parquet',
      [P.origin]: table.origin,
      [P.description]: table.description,
    },
    partitionKeys: table.partitionKeys.map(glueColumn),
    storageDescriptor: {
      location: `s3://${processedBucketName}/${table.location}`,
      inputFormat: PARQUET_INPUT_FORMAT,
      outputFormat: PARQUET_OUTPUT_FORMAT,
      serdeInfo: { serializationLibrary: PARQUET_SERDE, parameters: { 'serialization.format': '1' } },
      compressed: false,
      storedAsSubDirectories: false,
      columns: table.columns.map(glueColumn),
    },
  };
}

function glueColumn(c: TableColumn): CfnTable.ColumnProperty {
  return {
    name: c.name,
    type: hiveType(parseColumnType(c.type)),
    ...(c.description !== '' ? { comment: c.description.slice(0, MAX_COMMENT) } : {}),
  };
}
