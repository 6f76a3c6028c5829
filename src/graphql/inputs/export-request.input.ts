import { Field, InputType } from 'type-graphql';
import type { ExportRequestInput as DomainRequest } from '../../domain/export-request.js';
import { ExportCompressionEnum } from '../types/export-compression.enum.js';
import { CsvOptionsInput } from './csv-options.input.js';
import { ExportEstimateInput } from './export-estimate.input.js';

@InputType('ExportRequestInput', {
  description:
    'An export: a slice of one dataset as CSV. Validated against the catalog before a job exists; the same request on unchanged data returns the existing job.',
})
export class ExportRequestInput extends ExportEstimateInput {
  @Field()
  dataset!: string;

  @Field(() => ExportCompressionEnum, { nullable: true, description: 'Default NONE.' })
  compression?: ExportCompressionEnum | null;

  @Field(() => CsvOptionsInput, { nullable: true })
  csv?: CsvOptionsInput | null;

  @Field(() => String, {
    nullable: true,
    description:
      'Repeating a request with the same key returns the same job, or a new one once that job ended without a result (FAILED, CANCELLED, EXPIRED); the same key with a different request is a CONFLICT. 1 to 200 printable ASCII characters, no spaces.',
  })
  idempotencyKey?: string | null;
}

/** The service's request from the GraphQL input; `dataset` from the input, or from the parent for an estimate. */
export function toExportRequest(
  dataset: string,
  input: ExportEstimateInput & Partial<Pick<ExportRequestInput, 'compression' | 'csv' | 'idempotencyKey'>>,
): DomainRequest {
  return {
    dataset,
    columns: input.columns ?? null,
    where: input.where?.map((p) => ({ column: p.column, op: p.op, values: p.values ?? null })) ?? null,
    partitions:
      input.partitions === null || input.partitions === undefined
        ? null
        : {
            column: input.partitions.column ?? null,
            values: input.partitions.values ?? null,
            from: input.partitions.from ?? null,
            to: input.partitions.to ?? null,
          },
    orderBy: input.orderBy?.map((o) => ({ column: o.column, direction: o.direction ?? null })) ?? null,
    limit: input.limit ?? null,
    compression: input.compression ?? null,
    csv: input.csv === null || input.csv === undefined ? null : { ...input.csv },
    idempotencyKey: input.idempotencyKey ?? null,
  };
}
