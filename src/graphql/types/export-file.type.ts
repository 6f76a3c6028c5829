import { Field, ObjectType } from 'type-graphql';
import type { ExportFileView } from '../../domain/export-job.js';
import { DateTimeScalar, SafeIntScalar } from '../scalars.js';

@ObjectType('ExportFile', { description: 'One file of an export result, in order.' })
export class ExportFile {
  @Field({ description: 'File name, e.g. `part-00000.csv.gz`.' })
  name!: string;

  @Field(() => SafeIntScalar)
  rowCount!: number;

  @Field(() => SafeIntScalar, { description: 'Bytes as stored (compressed for gzip).' })
  bytes!: number;

  @Field({ description: "SHA-256 (hex) of the file's bytes as stored." })
  sha256!: string;

  @Field(() => String, {
    nullable: true,
    description:
      'A fresh download link while the job is SUCCEEDED and you may still export its dataset, null otherwise. Every read of the job issues a new one; a link that expired mid-download is replaced by reading the job again (downloads support `Range`).',
  })
  url!: string | null;

  @Field(() => DateTimeScalar, { nullable: true, description: 'When `url` stops working.' })
  urlExpiresAt!: Date | null;

  static from(f: ExportFileView): ExportFile {
    return Object.assign(new ExportFile(), {
      name: f.name,
      rowCount: f.rowCount,
      bytes: f.bytes,
      sha256: f.sha256,
      url: f.url,
      urlExpiresAt: f.urlExpiresAt,
    });
  }
}
