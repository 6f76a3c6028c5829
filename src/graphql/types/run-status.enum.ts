import { registerEnumType } from 'type-graphql';

export enum RunStatusEnum {
  RUNNING = 'RUNNING',
  SUCCEEDED = 'SUCCEEDED',
  FAILED = 'FAILED',
  SKIPPED = 'SKIPPED',
}

registerEnumType(RunStatusEnum, {
  name: 'RunStatus',
  description: 'State of one ETL run over one source object.',
  valuesConfig: {
    RUNNING: { description: 'Started, not finished.' },
    SUCCEEDED: { description: 'Finished; its good rows are written, bad rows quarantined.' },
    FAILED: { description: 'The source object could not be ingested as a whole; see `error`.' },
    SKIPPED: { description: 'Nothing to do: this version of the source object was already ingested.' },
  },
});
