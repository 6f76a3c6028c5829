import { registerEnumType } from 'type-graphql';

export enum ExportCompressionEnum {
  NONE = 'NONE',
  GZIP = 'GZIP',
}

registerEnumType(ExportCompressionEnum, {
  name: 'ExportCompression',
  description: 'Compression of the result files.',
  valuesConfig: {
    NONE: { description: 'Plain CSV files, `part-NNNNN.csv`.' },
    GZIP: { description: 'gzip files, `part-NNNNN.csv.gz` (each a valid gzip stream of one CSV file).' },
  },
});
