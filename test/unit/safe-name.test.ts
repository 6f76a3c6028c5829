import { MAX_SAFE_NAME_LENGTH, safeColumnName, safeColumnNames, uniqueName } from '../../src/domain/safe-name';

const SAFE = /^[a-z_][a-z0-9_]{0,127}$/;

describe('safeColumnName', () => {
  it.each([
    ['Case ID', 'case_id'],
    ['Variant.1', 'variant_1'],
    ['Complete Timestamp', 'complete_timestamp'],
    ['Variant index', 'variant_index'],
    ['Event_ID', 'event_id'],
    ['seriousness_2', 'seriousness_2'],
    ['responsible_section', 'responsible_section'],
    ['ticketId', 'ticket_id'],
    ['HTTPStatus', 'http_status'],
    ['  Leading and trailing  ', 'leading_and_trailing'],
    ['a--b__c..d', 'a_b_c_d'],
  ])('turns %j into %j', (source, expected) => {
    expect(safeColumnName(source)).toBe(expected);
  });

  it('prefixes a name that would start with a digit', () => {
    expect(safeColumnName('1st reply')).toBe('col_1st_reply');
    expect(safeColumnName('2024')).toBe('col_2024');
  });

  it('folds accents and letters without a decomposition to ASCII', () => {
    expect(safeColumnName('Größe (€)')).toBe('grosse');
    expect(safeColumnName('Durée_Échéance')).toBe('duree_echeance');
    expect(safeColumnName('Ærø Łódź Þing')).toBe('aero_lodz_thing');
    expect(safeColumnName('ﬁle №')).toBe('file_no');
  });

  it('falls back to "column" when nothing usable is left', () => {
    expect(safeColumnName('')).toBe('column');
    expect(safeColumnName('日本語')).toBe('column');
    expect(safeColumnName('???')).toBe('column');
  });

  it('cuts names longer than the bound without a trailing underscore', () => {
    const long = `${'a'.repeat(127)} b`;
    const name = safeColumnName(long);
    expect(name).toBe('a'.repeat(127));
    expect(safeColumnName('x'.repeat(300))).toHaveLength(MAX_SAFE_NAME_LENGTH);
  });
});

describe('safeColumnNames', () => {
  it('maps the real helpdesk header shape to the names its definition uses', () => {
    expect(
      safeColumnNames([
        'Case ID',
        'Activity',
        'Resource',
        'Complete Timestamp',
        'Variant',
        'Variant index',
        'Variant.1',
        'seriousness',
        'seriousness_2',
        'Duration',
        'Event_ID',
      ]),
    ).toEqual([
      'case_id',
      'activity',
      'resource',
      'complete_timestamp',
      'variant',
      'variant_index',
      'variant_1',
      'seriousness',
      'seriousness_2',
      'duration',
      'event_id',
    ]);
  });

  it('makes colliding names unique with a numeric suffix, first come first served', () => {
    expect(safeColumnNames(['Status', 'status', 'STATUS'])).toEqual(['status', 'status_2', 'status_3']);
  });

  it('never takes a suffixed name that another source gets on its own', () => {
    expect(safeColumnNames(['a', 'A', 'a_2'])).toEqual(['a', 'a_3', 'a_2']);
  });

  it('avoids reserved names', () => {
    expect(safeColumnNames(['Event Date', 'x'], ['event_date'])).toEqual(['event_date_2', 'x']);
  });

  it('numbers several empty names apart', () => {
    expect(safeColumnNames(['', '!', '日本'])).toEqual(['column', 'column_2', 'column_3']);
  });

  it('only produces names that a dataset definition accepts', () => {
    const names = safeColumnNames(['9', '_', '__x__', 'Ünïcödé', 'x'.repeat(200), 'x'.repeat(200)]);
    for (const n of names) expect(n).toMatch(SAFE);
    expect(new Set(names).size).toBe(names.length);
  });
});

describe('uniqueName', () => {
  it('keeps the suffixed name within the length bound', () => {
    const base = 'y'.repeat(MAX_SAFE_NAME_LENGTH);
    const name = uniqueName(base, (n) => n === base);
    expect(name).toBe(`${'y'.repeat(MAX_SAFE_NAME_LENGTH - 2)}_2`);
  });
});
