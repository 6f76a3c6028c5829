import { registerEnumType } from 'type-graphql';
import type { TableDefinition } from '../../domain/table.js';

export enum DatasetOriginEnum {
  ETL = 'ETL',
  REGISTERED = 'REGISTERED',
  GLUE = 'GLUE',
}

registerEnumType(DatasetOriginEnum, {
  name: 'DatasetOrigin',
  description: 'Where a dataset came from.',
  valuesConfig: {
    ETL: { description: 'Produced by the ETL from raw logs.' },
    REGISTERED: { description: 'Existing Parquet data registered with `careplus register`.' },
    GLUE: { description: 'A Parquet table found in the AWS Glue Data Catalog.' },
  },
});

export function datasetOriginEnum(origin: TableDefinition['origin']): DatasetOriginEnum {
  return origin.toUpperCase() as DatasetOriginEnum;
}
