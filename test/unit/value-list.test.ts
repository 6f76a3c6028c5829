import { splitValues } from '../../src/domain/value-list.js';

describe('console filter values', () => {
  it('splits on commas, and keeps a comma or a doubled quote inside a quoted value', () => {
    expect(splitValues('Closed, Open ,Wait')).toEqual(['Closed', 'Open', 'Wait']);
    // A real customer name: it used to be cut at its comma, and the export quietly matched nothing.
    expect(splitValues('"Müller, Schmidt & Co ""GmbH""", Acme')).toEqual(['Müller, Schmidt & Co "GmbH"', 'Acme']);
    expect(splitValues('" spaced ",x')).toEqual([' spaced ', 'x']);
    expect(splitValues('a,,b')).toEqual(['a', '', 'b']);
  });

  it('says what is wrong with a quote left open or text after a quoted value', () => {
    expect(() => splitValues('"Müller, Schmidt')).toThrow('A quoted value has no closing quote: end it with ".');
    expect(() => splitValues('"Acme" Inc, x')).toThrow('Put a comma after a quoted value, or quote the whole value.');
  });
});
