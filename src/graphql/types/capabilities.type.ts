import { Field, ObjectType } from 'type-graphql';
import type { Capabilities } from '../../domain/policy.js';

@ObjectType('Capabilities', { description: 'What a role may do besides reading the metadata of the datasets it sees.' })
export class CapabilitiesType {
  @Field({
    description:
      "Administrative operations: every caller's feeds (`feeds(all: true)`, `deleteFeed`) where your own access allows " +
      "their request. It grants no data, and another caller's export jobs stay theirs (NOT_FOUND).",
  })
  admin!: boolean;

  @Field({ description: '`requestExport` and `estimateExport`.' })
  canExport!: boolean;

  @Field({ description: '`Dataset.preview`.' })
  canPreview!: boolean;

  @Field({
    description:
      "`Column.stats` of visible, unmasked columns of datasets read without a row filter, and `freshness.newestEventTime` (the event-time column's maximum) under the same terms.",
  })
  canSeeStats!: boolean;

  @Field({ description: '`pipeline`, `pipelineRuns` and `Partition.producedBy`.' })
  canSeePipeline!: boolean;

  @Field({ description: 'Schema introspection, where the server enables it.' })
  canUseGraphiql!: boolean;

  static from(c: Capabilities): CapabilitiesType {
    return Object.assign(new CapabilitiesType(), { ...c });
  }
}
