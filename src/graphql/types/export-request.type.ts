import { Field, ObjectType } from 'type-graphql';
import type { NormalizedExportRequest } from '../../domain/export-request.js';
import { SafeIntScalar } from '../scalars.js';
import { CsvOptionsType } from './csv-options.type.js';
import { ExportCompressionEnum } from './export-compression.enum.js';
import { ExportOrder } from './export-order.type.js';
import { ExportPartitions } from './export-partitions.type.js';
import { ExportPredicate } from './export-predicate.type.js';

@ObjectType('ExportRequest', {
  description:
    "The request a job runs, normalised: defaults applied, values coerced, predicates in canonical order. The access policy's own row filter is not shown.",
})
export class ExportRequestType {
  @Field()
  dataset!: string;

  @Field(() => [String], { description: 'Columns in output order.' })
  columns!: string[];

  @Field(() => [ExportPredicate], { description: 'Predicates, all of which a row meets.' })
  where!: ExportPredicate[];

  @Field(() => ExportPartitions, { nullable: true })
  partitions!: ExportPartitions | null;

  @Field(() => [ExportOrder])
  orderBy!: ExportOrder[];

  @Field(() => SafeIntScalar, { nullable: true, description: "The request's row limit; null for none." })
  limit!: number | null;

  @Field(() => ExportCompressionEnum)
  compression!: ExportCompressionEnum;

  @Field(() => CsvOptionsType)
  csv!: CsvOptionsType;

  @Field(() => String, { nullable: true })
  idempotencyKey!: string | null;

  static from(r: NormalizedExportRequest): ExportRequestType {
    return Object.assign(new ExportRequestType(), {
      dataset: r.dataset,
      columns: r.columns.map((c) => c.name),
      where: r.where.map((p) => ExportPredicate.from(p)),
      partitions: r.partitions === null ? null : ExportPartitions.from(r.partitions),
      orderBy: r.orderBy.map((o) => ExportOrder.from(o)),
      limit: r.limit,
      compression: r.compression as ExportCompressionEnum,
      csv: CsvOptionsType.from(r.csv),
      idempotencyKey: r.idempotencyKey,
    });
  }
}
