import { type GraphQLSchema, isInterfaceType, isObjectType, parse, specifiedRules, validate } from 'graphql';
import { buildGraphQLSchema } from '../../src/graphql/schema.js';
import { depthLimitRule } from '../../src/graphql/plugins/depth-limit.rule.js';
import { analyzeOperation, DEFAULT_COST_MODEL } from '../../src/graphql/plugins/query-analysis.js';

/** The cost model and depth limit against the API's real schema (built from the resolvers), at default limits. */
describe('query limits on the real schema', () => {
  let schema: GraphQLSchema;
  beforeAll(async () => {
    schema = await buildGraphQLSchema();
  });

  const fieldExists = (coordinate: string): boolean => {
    const [typeName, field] = coordinate.split('.');
    const type = schema.getType(typeName!);
    return (isObjectType(type) || isInterfaceType(type)) && type.getFields()[field!] !== undefined;
  };

  it('prices fields that exist: every coordinate of the cost model names a real field', () => {
    const coordinates = [
      ...Object.keys(DEFAULT_COST_MODEL.fieldCosts),
      ...Object.keys(DEFAULT_COST_MODEL.listSizes),
      ...DEFAULT_COST_MODEL.rateLimitedFields,
    ];
    expect(coordinates.filter((c) => !fieldExists(c))).toEqual([]);
  });

  const analyze = (query: string): number => {
    const document = parse(query);
    expect(validate(schema, document, [...specifiedRules, depthLimitRule(12)])).toEqual([]);
    return analyzeOperation(schema, document, {})!.cost;
  };

  it('lets a BI tool read a default page of the catalog with column statistics', () => {
    const cost = analyze(
      '{ datasets { totalCount nodes { name rowCount columns { name type pii stats { nullCount min max } } } } }',
    );
    expect(cost).toBeLessThanOrEqual(5000);
  });

  it('refuses a hundred previews, or 1,000 aliases of column statistics', () => {
    expect(analyze('{ datasets(first: 100) { nodes { preview(limit: 100) { rows } } } }')).toBeGreaterThan(5000);
    const aliases = Array.from({ length: 1000 }, (_, i) => `a${i}: dataset(name: "x") { columns { stats { min } } }`);
    expect(analyze(`{ ${aliases.join(' ')} }`)).toBeGreaterThan(5000);
  });

  it('refuses thousands of aliases of a scalar on a page of partitions, or of the files a run wrote', () => {
    const names = Array.from({ length: 4000 }, (_, i) => `n${i}: name`).join(' ');
    expect(analyze(`{ dataset(name: "x") { partitions(first: 100) { nodes { ${names} } } } }`)).toBeGreaterThan(5000);
    const keys = Array.from({ length: 300 }, (_, i) => `k${i}: outputKeys(first: 100)`).join(' ');
    expect(
      analyze(`{ dataset(name: "x") { partitions(first: 100) { nodes { producedBy { ${keys} } } } } }`),
    ).toBeGreaterThan(5000);
    // Each field once, as the console asks for them, stays cheap.
    expect(
      analyze(
        '{ dataset(name: "x") { partitions(first: 100) { nodes { name values { key value } rowCount sizeBytes fileCount lastModified registered producedBy { runId status outputKeys partitions } } } } }',
      ),
    ).toBeLessThanOrEqual(5000);
  });

  it('refuses thousands of aliases of a field that builds a whole list whatever its page, and keeps honest reads', () => {
    // Each answer sorts every partition of the dataset, or reads every run record in scope, even for `totalCount`
    // alone: 3,000 aliases of `partitions { totalCount }` cost 3,001 and blocked the server for 20 s on the
    // helpdesk log's 1,303 partitions (found by a hands-on test).
    const aliases = (n: number, field: string): string =>
      Array.from({ length: n }, (_, i) => `a${i}: ${field}`).join(' ');
    expect(analyze(`{ dataset(name: "x") { ${aliases(3000, 'partitions { totalCount }')} } }`)).toBeGreaterThan(5000);
    expect(analyze(`{ ${aliases(3000, 'pipeline { windowEnd }')} }`)).toBeGreaterThan(5000);
    expect(analyze(`{ ${aliases(2500, 'pipelineRuns(first: 1) { totalCount }')} }`)).toBeGreaterThan(5000);
    // 1,500 aliases of `datasets(first: 100) { totalCount }` took 5.4 s with 32 datasets: each filters them all and
    // builds its page.
    expect(analyze(`{ ${aliases(1500, 'datasets(first: 100) { totalCount }')} }`)).toBeGreaterThan(5000);
    // 1,500 aliases of `feeds { name problem { code } }` took 3.1 s with one feed, 2,000 of `me { datasets { dataset } }`
    // 1.7 s (and 1.4 MB) with 32 datasets: lists without a page, each read or built again per alias.
    expect(analyze(`{ ${aliases(1500, 'feeds { name problem { code } }')} }`)).toBeGreaterThan(5000);
    expect(analyze(`{ ${aliases(2000, 'me { datasets { dataset } }')} }`)).toBeGreaterThan(5000);
    // 1,200 aliases took 5.5 s with five jobs: each reads the caller's job listing, with `status` every job record.
    expect(analyze(`{ ${aliases(1200, 'exports(first: 1, status: SUCCEEDED) { totalCount }')} }`)).toBeGreaterThan(
      5000,
    );
    // The partition count of every dataset of a full page, the pipeline board and a page of jobs stay within it.
    expect(
      analyze('{ datasets(first: 100) { nodes { name partitions(first: 1) { totalCount } } } }'),
    ).toBeLessThanOrEqual(5000);
    expect(
      analyze(
        '{ pipeline { datasets { dataset health lastRun { status } failureCount rowsQuarantined } } pipelineRuns(first: 100) { totalCount nodes { runId status } } exports(first: 100) { totalCount nodes { id status } } feeds { name } me { datasets { dataset columns } } }',
      ),
    ).toBeLessThanOrEqual(5000);
  });

  it('prices the keys and partitions a run lists: 24 datasets of runs behind 100 partitions each are refused', () => {
    // 72 MB within the limit when a list of scalars was free, whatever its size.
    const runs = Array.from(
      { length: 24 },
      (_, i) =>
        `d${i}: dataset(name: "x") { partitions(first: 100) { nodes { producedBy { outputKeys(first: 100) partitions(first: 100) } } } }`,
    );
    expect(analyze(`{ ${runs.join(' ')} }`)).toBeGreaterThan(5000);
    // The typed operations stay within it at their largest page (operations/metadata.graphql).
    const fields =
      'runId dataset status sourceKey rowsRead rowsWritten outputKeys quarantineKey partitions schemaVersion startedAt';
    expect(analyze(`{ pipelineRuns(first: 100) { totalCount nodes { ${fields} } } }`)).toBeLessThanOrEqual(5000);
  });
});
