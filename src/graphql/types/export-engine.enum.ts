import { registerEnumType } from 'type-graphql';
import type { ExportEngineKind } from '../../domain/export-job.js';

export enum ExportEngineEnum {
  DUCKDB = 'DUCKDB',
  ATHENA = 'ATHENA',
}

registerEnumType(ExportEngineEnum, {
  name: 'ExportEngine',
  description: 'The query engine that runs an export.',
  valuesConfig: {
    DUCKDB: { description: 'Embedded DuckDB in the API process.' },
    ATHENA: { description: 'Amazon Athena over the Glue tables.' },
  },
});

export function exportEngineEnum(engine: ExportEngineKind): ExportEngineEnum {
  return engine.toUpperCase() as ExportEngineEnum;
}
