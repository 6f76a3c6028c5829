import { GraphQLJSONObject } from 'graphql-scalars';
import { Field, ObjectType } from 'type-graphql';
import type { PreviewValue } from '../../services/dataset-preview.js';

@ObjectType('DatasetPreview', {
  description:
    'The first rows of a dataset. Each row is an object keyed by column name, values in the JSON form of their type: INT, FLOAT and DOUBLE as numbers (a FLOAT with the digits DuckDB writes for it, 0.1); BIGINT and DECIMAL as exact text; TIMESTAMP as ISO 8601 UTC with microseconds; DATE as yyyy-mm-dd; BOOLEAN as true/false; null as null.',
})
export class DatasetPreview {
  @Field(() => [String], { description: 'Column names, in the order asked for.' })
  columns!: string[];

  @Field(() => [GraphQLJSONObject])
  rows!: Record<string, PreviewValue>[];
}
