import { buildSchema, getIntrospectionQuery, parse, specifiedRules, validate } from 'graphql';
import { LimitExceededError } from '../../src/domain/errors.js';
import { depthLimitRule } from '../../src/graphql/plugins/depth-limit.rule.js';
import { analyzeOperation, DEFAULT_COST_MODEL, type QueryCostModel } from '../../src/graphql/plugins/query-analysis.js';
import { TokenBucketRateLimiter } from '../../src/graphql/plugins/rate-limiter.js';

/** The shape of the real API where it matters for cost: connections with `first`, columns, stats, preview. */
const schema = buildSchema(`
  type Query {
    datasets(first: Int = 20, after: String): DatasetConnection!
    dataset(name: String!): Dataset!
    pipelineRuns(first: Int = 20): RunConnection!
  }
  type Mutation { requestExport(dataset: String!): Job!  cancelExport(id: ID!): Job! }
  type Job { id: ID! }
  type RunConnection { nodes: [Run!]! totalCount: Int! }
  type Run { id: ID! outputKeys(first: Int = 100): [String!]! }
  type DatasetConnection { nodes: [Dataset!]! totalCount: Int! }
  type Dataset {
    name: String!
    columns: [Column!]!
    partitionKeys: [Column!]!
    preview(limit: Int = 10): Preview!
    estimateExport(where: String): Estimate!
    related: Dataset
  }
  type Column { name: String! stats: Stats! }
  type Stats { min: String max: String nullCount: Int }
  type Preview { columns: [String!]! rows: [String!]! }
  type Estimate { rows: Int! }
`);

/**
 * The default model, but with the connections it prices for building their whole list (`datasets`, `pipelineRuns`;
 * their prices are checked on the real schema, auth-real-schema.test.ts) at an object's 1, so that the counts below
 * show the rules alone.
 */
const model: QueryCostModel = {
  ...DEFAULT_COST_MODEL,
  fieldCosts: Object.fromEntries(
    Object.entries(DEFAULT_COST_MODEL.fieldCosts).filter(([c]) => c !== 'Query.datasets' && c !== 'Query.pipelineRuns'),
  ),
};

const cost = (query: string, variables?: Record<string, unknown>): { cost: number; rateTokens: number } => {
  const a = analyzeOperation(schema, parse(query), { variables }, model);
  return { cost: a!.cost, rateTokens: a!.rateTokens };
};

describe('query cost', () => {
  it.each([
    ['a scalar-only root field', '{ dataset(name: "a") { name } }', 1, 0],
    ['a default page of names', '{ datasets { nodes { name } totalCount } }', 1 + 20 * 1, 0],
    ['a page size from the argument', '{ datasets(first: 5) { nodes { name } } }', 1 + 5 * 1, 0],
    [
      'the catalog with stats, as a BI tool asks for it',
      '{ datasets { nodes { name columns { name stats { min max nullCount } } } } }',
      1 + 20 * (1 + (1 + 25 * 5)),
      1,
    ],
    ['one preview', '{ dataset(name: "a") { preview(limit: 100) { rows } } }', 1 + 100, 1],
    [
      'an estimate and a preview',
      '{ dataset(name: "a") { preview { rows } estimateExport { rows } } }',
      1 + 100 + 100,
      2,
    ],
    ['aliases, each counted', '{ a: dataset(name: "a") { name } b: dataset(name: "b") { name } }', 2, 0],
    [
      'fragments where spread',
      '{ dataset(name: "a") { ...D related { ...D } } } fragment D on Dataset { preview { rows } }',
      1 + 100 + 1 + 100,
      2,
    ],
    ['__typename for free', '{ __typename dataset(name: "a") { __typename } }', 1, 0],
    [
      'each alias of a scalar, once per item',
      '{ datasets(first: 100) { nodes { name a: name b: name } } }',
      1 + 100 * (1 + 2),
      0,
    ],
    ['an alias that is the name itself for free', '{ dataset(name: "a") { name: name } }', 1, 0],
    ['an aliased __typename', '{ datasets { nodes { t: __typename } } }', 1 + 20 * (1 + 1), 0],
    [
      'a list of scalars with a size argument by a tenth of its size, at least 1 under an alias',
      '{ pipelineRuns(first: 10) { nodes { outputKeys k: outputKeys(first: 55) d: outputKeys z: outputKeys(first: 0) } } }',
      1 + 10 * (1 + 10 + 6 + 10 + 1),
      0,
    ],
  ])('counts %s', (_what, query, expectedCost, expectedTokens) => {
    expect(cost(query)).toEqual({ cost: expectedCost, rateTokens: expectedTokens });
  });

  it('reads page sizes from variables, and falls back to the default when a variable is absent or null', () => {
    const q = 'query Q($n: Int) { datasets(first: $n) { nodes { preview { rows } } } }';
    expect(cost(q, { n: 50 }).cost).toBe(1 + 50 * (1 + 100));
    expect(cost(q, {}).cost).toBe(1 + 20 * (1 + 100));
    expect(cost(q, { n: null }).cost).toBe(1 + 20 * (1 + 100));
  });

  it('counts a size over the cap as the cap: the field refuses it, so the caller hears about the argument', () => {
    expect(cost('{ datasets(first: 100000) { nodes { name } } }').cost).toBe(1 + 100 * 1);
    expect(cost('{ dataset(name: "a") { preview(limit: 5000) { rows } } }').cost).toBe(1 + 100);
    expect(cost('{ datasets(first: -5) { nodes { name } } }').cost).toBe(1);
  });

  it('counts a variable the client leaves out at its declared default, as execution will', () => {
    const q = 'query Q($n: Int = 100) { datasets(first: $n) { nodes { preview(limit: $n) { rows } } } }';
    expect(cost(q, {}).cost).toBe(1 + 100 * (1 + 100));
    expect(cost(q, { n: 5 }).cost).toBe(1 + 5 * (1 + 100));
    // An explicit null overrides the default: the field's own default applies.
    expect(cost(q, { n: null }).cost).toBe(1 + 20 * (1 + 100));
    // Variables that do not coerce (execution refuses them): defaults are still counted.
    const both =
      'query Q($n: Int = 100, $s: String!) { datasets(first: $n) { nodes { name } } dataset(name: $s) { name } }';
    expect(cost(both, {}).cost).toBe(1 + 100 * 1 + 1);
  });

  it('counts 1,000 aliases of an expensive field a thousand times', () => {
    const aliases = Array.from({ length: 1000 }, (_, i) => `a${i}: dataset(name: "x") { preview { rows } }`).join(' ');
    expect(cost(`{ ${aliases} }`)).toEqual({ cost: 1000 * 101, rateTokens: 1000 });
  });

  it('takes one rate token per mutation root field', () => {
    expect(cost('mutation { a: requestExport(dataset: "x") { id } b: cancelExport(id: "1") { id } }')).toEqual({
      cost: 50 + 5,
      rateTokens: 2,
    });
  });

  it('picks the named operation of a document with several', () => {
    const doc = parse('query A { dataset(name: "a") { name } } query B { datasets { nodes { name } } }');
    expect(analyzeOperation(schema, doc, { operationName: 'B' }, model)?.cost).toBe(21);
    expect(analyzeOperation(schema, doc, {})).toBeUndefined();
  });
});

describe('depth limit rule', () => {
  const nested = (levels: number): string => {
    let q = 'name';
    for (let i = 1; i < levels; i++) q = `related { ${q} }`;
    return `{ dataset(name: "a") { ${q} } }`;
  };
  const errors = (query: string, max: number) =>
    validate(schema, parse(query), [...specifiedRules, depthLimitRule(max)]);

  it('accepts the limit and refuses one level more with LIMIT_EXCEEDED', () => {
    expect(errors(nested(11), 12)).toEqual([]);
    const refused = errors(nested(12), 12);
    expect(refused.map((e) => e.message)).toEqual(['the operation is nested deeper than the limit of 12 levels']);
    expect(refused[0]!.originalError).toBeInstanceOf(LimitExceededError);
    expect(refused[0]!.extensions['code']).toBe('LIMIT_EXCEEDED');
  });

  it('counts depth through fragments and names the operation', () => {
    const q = 'query Deep { dataset(name: "a") { ...A } } fragment A on Dataset { related { related { name } } }';
    expect(errors(q, 3).map((e) => e.message)).toEqual([
      'operation "Deep" is nested deeper than the limit of 3 levels',
    ]);
    expect(errors(q, 4)).toEqual([]);
  });

  it('leaves the standard introspection query to graphql-js', () => {
    expect(errors(getIntrospectionQuery(), 3)).toEqual([]);
  });
});

describe('token bucket rate limiter', () => {
  it('allows a burst up to the capacity, then refills at capacity per minute', () => {
    let now = 0;
    const limiter = new TokenBucketRateLimiter({ capacity: 60, now: () => now });
    for (let i = 0; i < 60; i++) expect(limiter.take('k').allowed).toBe(true);
    expect(limiter.take('k')).toEqual({ allowed: false, retryAfterSeconds: 1 });
    expect(limiter.take('other')).toEqual({ allowed: true, remaining: 59 });
    now = 1000;
    expect(limiter.take('k')).toEqual({ allowed: true, remaining: 0 });
    now = 61_000;
    expect(limiter.take('k', 60)).toEqual({ allowed: true, remaining: 0 });
  });

  it('takes all tokens or none, and tells when a larger request fits', () => {
    let now = 0;
    const limiter = new TokenBucketRateLimiter({ capacity: 10, now: () => now });
    expect(limiter.take('k', 8).allowed).toBe(true);
    expect(limiter.take('k', 5)).toEqual({ allowed: false, retryAfterSeconds: 18 });
    expect(limiter.take('k', 2)).toEqual({ allowed: true, remaining: 0 });
    expect(limiter.take('k', 50)).toEqual({ allowed: false, retryAfterSeconds: 60 });
    now = 60_000;
    expect(limiter.take('k', 10).allowed).toBe(true);
  });

  it('drops full buckets when it tracks too many keys', () => {
    let now = 0;
    const limiter = new TokenBucketRateLimiter({ capacity: 1, maxKeys: 2, now: () => now });
    limiter.take('a');
    limiter.take('b');
    now = 120_000;
    limiter.take('c');
    // 'a' and 'b' had refilled and were dropped; a dropped key starts full again.
    expect(limiter.take('a')).toEqual({ allowed: true, remaining: 0 });
  });
});
