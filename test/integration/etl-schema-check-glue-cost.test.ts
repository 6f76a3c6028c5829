import { GlueClient } from '@aws-sdk/client-glue';
import { checkSchemaCompatibility, tableFromDefinition } from '../../lambda/pipeline/catalog-schema.js';
import { GlueCatalog } from '../../src/adapters/aws/glue-catalog.js';
import { parseDatasetDefinition } from '../../src/domain/dataset-definition.js';
import { EVENTS } from '../support/etl-lake.js';
import { startGlueStandIn } from '../support/glue-standin.js';

/**
 * checkSchemaCompatibility asks whether a table without a recorded day source holds data on every ingest of it (a
 * table written before the source was recorded never gets one while it holds data). That is one GetPartitions of one
 * partition (Catalog.hasPartitions): GlueCatalog's listPartitions reads every partition page before slicing, 3
 * GetPartitions per ingest for a table of 3,000 days.
 */
it('asks Glue for one partition, once, whether a table without a recorded source holds data', async () => {
  const glue = await startGlueStandIn({ databases: ['careplus'] });
  try {
    const catalog = new GlueCatalog(
      new GlueClient({
        endpoint: glue.endpoint,
        region: 'us-east-1',
        credentials: { accessKeyId: 't', secretAccessKey: 't' },
      }),
      'careplus',
      'careplus-processed',
    );
    const def = parseDatasetDefinition(EVENTS, 'events.yaml');
    await catalog.putTable(tableFromDefinition(def)); // as an ETL before 6996831 put it
    const day = (i: number): string => new Date(Date.UTC(2015, 0, 1) + i * 86_400_000).toISOString().slice(0, 10);
    await catalog.addPartitions(
      'events',
      Array.from({ length: 3000 }, (_, i) => ({
        values: { event_date: day(i) },
        location: `events/event_date=${day(i)}/`,
      })),
    );
    const before = glue.calls.length;
    await checkSchemaCompatibility(catalog, def);
    const pages = glue.calls.slice(before).filter((c) => c === 'GetPartitions').length;
    expect(pages).toBeLessThanOrEqual(1);
  } finally {
    await glue.stop();
  }
}, 60_000);
