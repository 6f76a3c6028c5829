import { gql } from './api.js';
import { h, replace } from './dom.js';
import {
  type ConsoleExportColumnFragment,
  ConsoleExportColumnsDocument,
  ConsoleRequestExportDocument,
  type ExportFilterOp,
  type ExportPredicateInput,
  type ExportRequestInput,
} from '../../src/generated/graphql.js';
import { refusedExport } from './me.js';
import { navigate } from './router.js';
import { splitValues } from '../../src/domain/value-list.js';
import { badge, datasetHref, errorBox, jobHref, link, loading, pageHeader } from './ui.js';

type ExportColumn = ConsoleExportColumnFragment;

/** Operators as offered in the form, with how many values each takes. */
const OPERATORS: { op: ExportFilterOp; label: string; values: 'none' | 'one' | 'two' | 'list' }[] = [
  { op: 'EQ', label: 'equals', values: 'one' },
  { op: 'NE', label: 'does not equal', values: 'one' },
  { op: 'IN', label: 'is one of (comma-separated; "quote, a value" with a comma)', values: 'list' },
  { op: 'LT', label: 'is less than', values: 'one' },
  { op: 'LTE', label: 'is at most', values: 'one' },
  { op: 'GT', label: 'is greater than', values: 'one' },
  { op: 'GTE', label: 'is at least', values: 'one' },
  { op: 'BETWEEN', label: 'is between (from, to)', values: 'two' },
  { op: 'CONTAINS', label: 'contains', values: 'one' },
  { op: 'STARTS_WITH', label: 'starts with', values: 'one' },
  { op: 'IS_NULL', label: 'is empty (null)', values: 'none' },
  { op: 'IS_NOT_NULL', label: 'is not empty', values: 'none' },
];

/**
 * CSV presets. Excel: a UTF-8 byte order mark (so Excel reads accents right) and formula neutralisation (a text
 * cell starting with =, +, -, @ is made inert). Standard keeps the API's defaults; Raw writes text exactly.
 */
const PRESETS = {
  standard: { label: 'Standard CSV (UTF-8, formulas neutralised)', csv: { bom: false, neutralizeFormulas: true } },
  excel: { label: 'Excel (UTF-8 with BOM, formulas neutralised)', csv: { bom: true, neutralizeFormulas: true } },
  raw: { label: 'Raw (text exactly as stored)', csv: { bom: false, neutralizeFormulas: false } },
} as const;
type PresetName = keyof typeof PRESETS;

let filterSeq = 0;

/** The export form: columns, filters, compression and CSV preset; submitting goes to the job's progress page. */
export async function renderExportForm(main: HTMLElement, name: string, signal: AbortSignal): Promise<void> {
  const title = `Export ${name}`;
  replace(main, pageHeader(title), loading('the columns'));
  let columns: ExportColumn[];
  const columnsRead = gql(ConsoleExportColumnsDocument, { name }, signal);
  if (await refusedExport(main, signal)) {
    columnsRead.catch(() => undefined);
    return;
  }
  try {
    // The partition keys too, after the data columns as an export writes them: the form offered neither a box nor a
    // filter for them (no `event_date`), yet an export of every box checked held them.
    const { dataset } = await columnsRead;
    columns = [...dataset.columns, ...dataset.partitionKeys];
  } catch (err) {
    if (signal.aborted) return;
    replace(main, pageHeader(title), errorBox(err, 'Could not load the dataset'));
    return;
  }
  if (signal.aborted) return;

  const boxes = columns.map((c) =>
    h('input', { type: 'checkbox', id: `col-${c.name}`, name: 'columns', value: c.name, checked: true }),
  );
  const columnList = h(
    'ul',
    { class: 'checklist' },
    columns.map((c, i) =>
      h(
        'li',
        {},
        boxes[i] ?? null,
        h('label', { for: `col-${c.name}` }, h('code', {}, c.name), ' ', h('span', { class: 'muted' }, c.typeText)),
        c.pii ? badge('PII', 'warn') : null,
        c.mask !== null ? badge(`masked: ${c.mask.toLowerCase()}`, 'neutral') : null,
        c.partitionKey ? badge('partition key', 'info') : null,
      ),
    ),
  );
  const setAll = (checked: boolean) => () => boxes.forEach((b) => (b.checked = checked));

  const filters = h('ol', { class: 'filters', 'aria-live': 'polite' });
  // Masked columns may be exported but not filtered on (the API refuses it).
  const filterable = columns.filter((c) => c.mask === null);
  const addFilter = (): void => {
    const row = filterRow(filterable, () => {
      // The focus goes back to where filters are added, not to the page's start.
      row.remove();
      document.getElementById('add-filter')?.focus();
    });
    filters.append(row);
    row.querySelector('select')?.focus();
  };

  const compression = radioGroup('compression', 'Compression', [
    ['NONE', 'None (.csv)'],
    ['GZIP', 'Gzip (.csv.gz)'],
  ]);
  const preset = h(
    'select',
    { id: 'csv-preset', name: 'preset' },
    (Object.keys(PRESETS) as PresetName[]).map((key) => h('option', { value: key }, PRESETS[key].label)),
  );
  const limit = h('input', {
    id: 'row-limit',
    name: 'limit',
    type: 'number',
    min: '1',
    step: '1',
    inputmode: 'numeric',
  });
  const status = h('div', { 'aria-live': 'assertive' });
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Request export');

  const form = h(
    'form',
    { class: 'export-form', novalidate: true },
    h(
      'fieldset',
      {},
      h('legend', {}, 'Columns'),
      h(
        'div',
        { class: 'row' },
        h('button', { type: 'button', onclick: setAll(true) }, 'Select all'),
        h('button', { type: 'button', onclick: setAll(false) }, 'Select none'),
      ),
      columnList,
    ),
    h(
      'fieldset',
      {},
      h('legend', {}, 'Filters'),
      h(
        'p',
        { class: 'help' },
        'Rows must meet every filter. Values are checked against the column type by the server.',
      ),
      filters,
      h('button', { type: 'button', id: 'add-filter', onclick: addFilter }, 'Add filter'),
    ),
    h(
      'fieldset',
      {},
      h('legend', {}, 'File'),
      compression.element,
      h('div', { class: 'field' }, h('label', { for: 'csv-preset' }, 'CSV format'), preset),
      h('div', { class: 'field' }, h('label', { for: 'row-limit' }, 'Row limit (optional)'), limit),
    ),
    h('div', { class: 'row' }, submit, link(datasetHref(name), 'Back to the dataset')),
    status,
  );

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const chosen = boxes.filter((b) => b.checked).map((b) => b.value);
    if (chosen.length === 0) {
      replace(status, errorBox(new Error('Choose at least one column.'), 'Nothing to export'));
      boxes[0]?.focus();
      return;
    }
    let where: ExportPredicateInput[];
    try {
      where = [...filters.querySelectorAll<HTMLLIElement>('li.filter')].map(readFilter);
    } catch (err) {
      replace(status, errorBox(err, 'Check the filters'));
      return;
    }
    const limitText = limit.value.trim();
    // A number field the browser cannot read (`1e`, `5-`) has an empty value: that must not mean "no limit".
    if (limit.validity.badInput || (limitText !== '' && !/^\d+$/.test(limitText)) || limitText === '0') {
      replace(
        status,
        errorBox(
          new Error('Give the row limit as a whole number of at least 1, or leave it empty.'),
          'Check the row limit',
        ),
      );
      limit.focus();
      return;
    }
    const presetName = preset.value as PresetName;
    const input: ExportRequestInput = {
      dataset: name,
      columns: chosen.length === columns.length ? null : chosen,
      where,
      compression: compression.value() === 'GZIP' ? 'GZIP' : 'NONE',
      csv: { ...PRESETS[presetName].csv },
      limit: limitText === '' ? null : Number(limitText),
    };
    submit.disabled = true;
    replace(status, h('p', { role: 'status' }, 'Requesting the export…'));
    gql(ConsoleRequestExportDocument, { input }, signal)
      .then((data) => navigate(jobHref(data.requestExport.id)))
      .catch((err: unknown) => {
        if (signal.aborted) return;
        submit.disabled = false;
        replace(status, errorBox(err, 'The export was refused'));
      });
  });

  replace(
    main,
    pageHeader(title, h('p', { class: 'lede' }, 'Pick the columns and rows you need; the file is made on the server.')),
    form,
  );
}

function filterRow(columns: ExportColumn[], remove: () => void): HTMLLIElement {
  const n = ++filterSeq;
  const column = h(
    'select',
    { id: `filter-${n}-column`, name: 'column' },
    columns.map((c) => h('option', { value: c.name }, c.name)),
  );
  const op = h(
    'select',
    { id: `filter-${n}-op`, name: 'op' },
    OPERATORS.map((o) => h('option', { value: o.op }, o.label)),
  );
  const value = h('input', { id: `filter-${n}-value`, name: 'value', type: 'text', autocomplete: 'off' });
  const valueField = h('div', { class: 'field' }, h('label', { for: `filter-${n}-value` }, 'Value'), value);
  // Named by its column (a running number said "Remove filter 7" on a form's first filter).
  const removeButton = h(
    'button',
    { type: 'button', class: 'link', 'aria-label': `Remove the filter on ${column.value}`, onclick: remove },
    'Remove',
  );
  column.addEventListener('change', () =>
    removeButton.setAttribute('aria-label', `Remove the filter on ${column.value}`),
  );
  op.addEventListener('change', () => {
    const takes = OPERATORS.find((o) => o.op === op.value)?.values ?? 'one';
    valueField.hidden = takes === 'none';
  });
  return h(
    'li',
    { class: 'filter' },
    h('div', { class: 'field' }, h('label', { for: `filter-${n}-column` }, 'Column'), column),
    h('div', { class: 'field' }, h('label', { for: `filter-${n}-op` }, 'Condition'), op),
    valueField,
    removeButton,
  );
}

/** A filter row as a predicate; values go as text and the server coerces them to the column's type. */
function readFilter(row: HTMLLIElement): ExportPredicateInput {
  const [column, op] = [...row.querySelectorAll('select')].map((s) => s.value);
  const raw = row.querySelector('input')?.value ?? '';
  const spec = OPERATORS.find((o) => o.op === op);
  if (column === undefined || spec === undefined) throw new Error('Choose a column and a condition.');
  // Only list operators split on commas (a single value keeps its commas and quotes).
  const parts = (): string[] => {
    try {
      return splitValues(raw);
    } catch (err) {
      throw new Error(`"${column} ${spec.label}": ${(err as Error).message}`, { cause: err });
    }
  };
  switch (spec.values) {
    case 'none':
      return { column, op: spec.op, values: [] };
    case 'one':
      return { column, op: spec.op, values: [raw.trim()] };
    case 'two': {
      const two = parts();
      if (two.length !== 2) throw new Error(`"${column} ${spec.label}" needs two values separated by a comma.`);
      return { column, op: spec.op, values: two };
    }
    case 'list':
      if (raw.trim() === '') throw new Error(`"${column} ${spec.label}" needs at least one value.`);
      return { column, op: spec.op, values: parts() };
  }
}

function radioGroup(
  name: string,
  legend: string,
  options: [string, string][],
): { element: HTMLElement; value: () => string } {
  const inputs = options.map(([value], i) =>
    h('input', { type: 'radio', id: `${name}-${value}`, name, value, checked: i === 0 }),
  );
  return {
    element: h(
      'div',
      { class: 'field', role: 'radiogroup', 'aria-labelledby': `${name}-label` },
      h('span', { id: `${name}-label`, class: 'label' }, legend),
      options.map(([value, label], i) =>
        h('span', { class: 'radio' }, inputs[i] ?? null, h('label', { for: `${name}-${value}` }, label)),
      ),
    ),
    value: () => inputs.find((i) => i.checked)?.value ?? options[0]?.[0] ?? '',
  };
}
