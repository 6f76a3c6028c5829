import { GlueClient } from '@aws-sdk/client-glue';
import { checkSchemaCompatibility, tableFromDefinition } from '../../lambda/pipeline/catalog-schema.js';
import { GlueCatalog } from '../../src/adapters/aws/glue-catalog.js';
import { parseDatasetDefinition } from '../../src/domain/dataset-definition.js';
import { EVENTS } from '../support/etl-lake.js';
import { startGlueStandIn } from '../support/glue-standin.js';

/**
 * 6996831: checkSchemaCompatibility asks listPartitions({ maxResults: 1 }) on every ingest of a table without a
 * recorded source (every table written before, forever: it never gets one while it holds data). GlueCatalog's
 * listPartitions reads every partition page before slicing: a table of 3,000 days costs 3 GetPartitions per ingest,
 * where before the check read none unless the definition had a problem.
 */
it('the emptiness check of a legacy Glue table reads every partition page', async () => {
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
