import { type FieldNode, type GraphQLResolveInfo, Kind, type SelectionSetNode } from 'graphql';

/** What the selection under `datasets` or `dataset` needs from the datasets' files. */
export interface DatasetDemand {
  /** The listing: sizes, file counts, write times. */
  files: boolean;
  /** The footers' statistics: row counts, column statistics, event times, per-partition figures. */
  statistics: boolean;
}

/** Dataset fields answered from the listing alone. */
const LISTING_FIELDS = new Set(['sizeBytes', 'fileCount', 'lastUpdated']);
/** Dataset fields that need the footers' statistics too. */
const STATISTICS_FIELDS = new Set(['rowCount', 'unreadableFileCount', 'freshness', 'partitions', 'preview']);
/** Dataset fields whose columns may ask for `stats`. */
const COLUMN_FIELDS = new Set(['columns', 'partitionKeys']);

/**
 * What the fields selected under a `datasets` connection (`shape: 'connection'`, through `nodes` and `edges.node`) or
 * a `dataset` (`'dataset'`) need from the files, so that the resolver loads it for every dataset at once before the
 * fields run (DatasetService.prefetch). Fragments count as selected whatever their directives say: asking for too
 * much costs a load the request might not need, asking for too little only makes the fields load it themselves.
 */
export function datasetDemand(info: GraphQLResolveInfo, shape: 'connection' | 'dataset'): DatasetDemand {
  const demand: DatasetDemand = { files: false, statistics: false };
  const datasetSelections =
    shape === 'dataset'
      ? info.fieldNodes.map((n) => n.selectionSet)
      : info.fieldNodes.flatMap((n) =>
          fieldsOf(info, n.selectionSet).flatMap((f) => {
            if (f.name.value === 'nodes') return [f.selectionSet];
            if (f.name.value === 'edges') {
              return fieldsOf(info, f.selectionSet)
                .filter((e) => e.name.value === 'node')
                .map((e) => e.selectionSet);
            }
            return [];
          }),
        );
  for (const selection of datasetSelections) {
    for (const field of fieldsOf(info, selection)) {
      const name = field.name.value;
      if (LISTING_FIELDS.has(name)) demand.files = true;
      else if (STATISTICS_FIELDS.has(name)) {
        demand.files = true;
        demand.statistics = true;
      } else if (COLUMN_FIELDS.has(name) && fieldsOf(info, field.selectionSet).some((c) => c.name.value === 'stats')) {
        demand.files = true;
        demand.statistics = true;
      }
    }
  }
  return demand;
}

/** The fields of a selection set, with inline fragments and fragment spreads flattened. */
function fieldsOf(info: GraphQLResolveInfo, selectionSet: SelectionSetNode | undefined): FieldNode[] {
  const out: FieldNode[] = [];
  const visit = (set: SelectionSetNode | undefined, seen: Set<string>): void => {
    for (const s of set?.selections ?? []) {
      switch (s.kind) {
        case Kind.FIELD:
          out.push(s);
          break;
        case Kind.INLINE_FRAGMENT:
          visit(s.selectionSet, seen);
          break;
        case Kind.FRAGMENT_SPREAD: {
          const name = s.name.value;
          // Validation refuses fragment cycles; the guard keeps this walk finite regardless.
          if (seen.has(name)) break;
          visit(info.fragments[name]?.selectionSet, new Set([...seen, name]));
          break;
        }
      }
    }
  };
  visit(selectionSet, new Set());
  return out;
}
