/**
 * The representative metadata query of the `api` benchmark: what a BI tool asks when it opens a connection: every
 * dataset with its columns, per-column statistics from the Parquet footers, sizes and freshness.
 */
export const METADATA_QUERY = `query BenchDatasets {
  datasets(first: 20) {
    totalCount
    pageInfo { hasNextPage endCursor }
    nodes {
      name
      description
      origin
      rowCount
      sizeBytes
      fileCount
      lastUpdated
      schemaVersion
      columns { name type typeText nullable pii description stats { nullCount min max } }
      partitionKeys { name type stats { nullCount min max } }
      freshness {
        eventTimeColumn
        newestEventTime
        newestWriteTime
        eventLagSeconds
        writeLagSeconds
        expectedIntervalMinutes
        stale
      }
    }
  }
}`;

/** The JSON body every request of the load sends. */
export const METADATA_REQUEST_BODY = JSON.stringify({ query: METADATA_QUERY, operationName: 'BenchDatasets' });
