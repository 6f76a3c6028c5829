import { Field, ObjectType } from 'type-graphql';
import type { ExportResultView } from '../../domain/export-job.js';
import { SafeIntScalar } from '../scalars.js';
import { ExportFile } from './export-file.type.js';

@ObjectType('ExportResult', { description: 'The files of a finished export.' })
export class ExportResult {
  @Field(() => SafeIntScalar, { description: 'Data rows over all files (header rows not counted).' })
  rowCount!: number;

  @Field(() => SafeIntScalar, { description: 'Bytes over all files, as stored.' })
  bytes!: number;

  @Field({
    description:
      'SHA-256 (hex) of the checksum listing: one `<sha256>  <name>` line per file, in order (the `sha256sum` format).',
  })
  sha256!: string;

  @Field({ description: "True when a limit (the request's or the configured maximum) cut rows off." })
  truncated!: boolean;

  @Field(() => [ExportFile], {
    description:
      'Files in order. With a header, every file starts with it; to join them into one CSV, drop the header of every file after the first.',
  })
  files!: ExportFile[];

  static from(r: ExportResultView): ExportResult {
    return Object.assign(new ExportResult(), {
      rowCount: r.rowCount,
      bytes: r.bytes,
      sha256: r.sha256,
      truncated: r.truncated,
      files: r.files.map((f) => ExportFile.from(f)),
    });
  }
}
