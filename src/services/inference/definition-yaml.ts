import { Document, isMap, isPair, isScalar, isSeq } from 'yaml';
import type { DatasetDefinitionInput } from '../../domain/dataset-definition.js';

/** Width of comment text, leaving room for `# ` and indentation within the 120-column lines. */
const COMMENT_WIDTH = 110;

export interface DefinitionComments {
  /** Lines above the document. */
  header: string[];
  /** Comments above top-level fields (`partition`, `eventKey`, ...). */
  fields: Map<string, string>;
  /** Comments above a column, by column name. */
  columns: Map<string, string>;
}

/**
 * A dataset definition as YAML in the layout of `datasets/*.yaml`: block style columns, short lists in flow
 * style, every string quoted where YAML needs it, comments wrapped to the line width.
 */
export function renderDefinitionYaml(definition: DatasetDefinitionInput, comments: DefinitionComments): string {
  const doc = new Document(definition);
  doc.commentBefore = comments.header.map(commentText).join('\n');
  const root = doc.contents;
  if (isMap(root)) {
    for (const pair of root.items) {
      if (!isPair(pair) || !isScalar(pair.key)) continue;
      const field = String(pair.key.value);
      const comment = comments.fields.get(field);
      if (comment !== undefined) pair.key.commentBefore = commentText(comment);
      if (
        (field === 'formats' || field === 'eventKey' || field === 'partition' || field === 'csv') &&
        (isSeq(pair.value) || isMap(pair.value))
      ) {
        pair.value.flow = true;
      }
      if (field === 'text' && isMap(pair.value)) {
        // A literal block keeps a long pattern on one line, exactly as written: a plain or quoted scalar would be
        // folded at a space inside it (`[T ]`), which reads back the same but misleads whoever edits it.
        const pattern = pair.value.get('pattern', true);
        if (isScalar(pattern)) pattern.type = 'BLOCK_LITERAL';
      }
      if (field !== 'columns' || !isSeq(pair.value)) continue;
      for (const item of pair.value.items) {
        if (!isMap(item)) continue;
        const columnComment = comments.columns.get(String(item.get('name')));
        if (columnComment !== undefined) item.commentBefore = commentText(columnComment);
        const formats = item.get('formats', true);
        if (isSeq(formats)) formats.flow = true;
      }
    }
  }
  return doc.toString({ lineWidth: 120, flowCollectionPadding: false });
}

/** A comment body wrapped at COMMENT_WIDTH, each line starting with one space after the `#`. */
function commentText(text: string): string {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/).filter((w) => w !== '')) {
    if (line !== '' && line.length + 1 + word.length > COMMENT_WIDTH) {
      lines.push(line);
      line = word;
    } else {
      line = line === '' ? word : `${line} ${word}`;
    }
  }
  if (line !== '') lines.push(line);
  return lines.map((l) => ` ${l}`).join('\n');
}
