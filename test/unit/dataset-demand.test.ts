import { type GraphQLResolveInfo, Kind, type OperationDefinitionNode, parse } from 'graphql';
import { datasetDemand } from '../../src/graphql/dataset-demand.js';

/** The parts of `info` the demand reads, for the root field of `query`. */
function infoFor(query: string): GraphQLResolveInfo {
  const document = parse(query);
  const operation = document.definitions.find(
    (d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION,
  )!;
  const fragments = Object.fromEntries(
    document.definitions.flatMap((d) => (d.kind === Kind.FRAGMENT_DEFINITION ? [[d.name.value, d]] : [])),
  );
  const root = operation.selectionSet.selections[0]!;
  if (root.kind !== Kind.FIELD) throw new Error('the first selection must be a field');
  return { fieldNodes: [root], fragments } as unknown as GraphQLResolveInfo;
}

describe('datasetDemand', () => {
  it('needs nothing from the files for names, descriptions and columns without stats', () => {
    const info = infoFor('{ datasets { totalCount nodes { name description columns { name type pii } } } }');
    expect(datasetDemand(info, 'connection')).toEqual({ files: false, statistics: false });
  });

  it('needs the listing only for sizes, file counts and update times', () => {
    const info = infoFor('{ datasets { edges { node { sizeBytes fileCount lastUpdated } } } }');
    expect(datasetDemand(info, 'connection')).toEqual({ files: true, statistics: false });
  });

  it('needs statistics for row counts, freshness and column stats, also through fragments', () => {
    expect(datasetDemand(infoFor('{ dataset(name: "x") { rowCount } }'), 'dataset')).toEqual({
      files: true,
      statistics: true,
    });
    const fragments = infoFor(`
      query { datasets { nodes { ...D } } }
      fragment D on Dataset { name ... on Dataset { partitionKeys { ...C } } }
      fragment C on Column { name stats { max } }`);
    expect(datasetDemand(fragments, 'connection')).toEqual({ files: true, statistics: true });
    expect(datasetDemand(infoFor('{ dataset(name: "x") { freshness { stale } } }'), 'dataset')).toEqual({
      files: true,
      statistics: true,
    });
  });
});
