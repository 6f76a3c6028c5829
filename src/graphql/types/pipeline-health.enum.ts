import { registerEnumType } from 'type-graphql';

export enum PipelineHealthEnum {
  HEALTHY = 'HEALTHY',
  STALE = 'STALE',
  FAILING = 'FAILING',
  NO_RUNS = 'NO_RUNS',
}

registerEnumType(PipelineHealthEnum, {
  name: 'PipelineHealth',
  description: 'Health of the pipeline of one dataset, checked in this order.',
  valuesConfig: {
    FAILING: { description: 'The most recent finished run failed.' },
    STALE: { description: 'No data file was written within the expected interval.' },
    NO_RUNS: { description: 'No run records (e.g. a registered dataset that the ETL does not load).' },
    HEALTHY: { description: 'The last finished run succeeded and the data is within its expected interval.' },
  },
});
