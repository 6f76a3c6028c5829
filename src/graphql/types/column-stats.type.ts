import { Field, ObjectType } from 'type-graphql';
import { SafeIntScalar } from '../scalars.js';

@ObjectType('ColumnStats', {
  description:
    "Statistics of a column over the dataset's Parquet files, from their footers (no data is scanned). For partition keys, from the partition values. A file whose footer cannot be read is left out: `Partition.unreadableFileCount` counts such files, and `estimateExport.unreadableFiles` those an export would read.",
  // Plain fields read the property with GraphQL's default resolver: no type-graphql wrapper per field and request.
  simpleResolvers: true,
})
export class ColumnStats {
  @Field(() => SafeIntScalar, { nullable: true, description: 'Null values; null when some file does not record it.' })
  nullCount!: number | null;

  @Field(() => String, {
    nullable: true,
    description:
      'Smallest value as text in the canonical form of the column type: ISO 8601 UTC with microseconds for TIMESTAMP (2024-01-01T08:00:00.123456Z), yyyy-mm-dd for DATE, exactly `scale` decimals for DECIMAL, full digits for BIGINT. Null when the column holds only nulls, some file lacks the statistic, or the file holding the smallest text recorded only a cut bound (DuckDB cuts a text bound over 256 bytes).',
  })
  min!: string | null;

  @Field(() => String, { nullable: true, description: 'Largest value, in the same form as `min`.' })
  max!: string | null;
}
