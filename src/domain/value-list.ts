/**
 * The values of a filter typed into one field (the console's "is one of", the CLI's `--where … IN …`), separated by
 * commas. A value holding a comma is written in double
 * quotes, as in CSV (`"Müller, Schmidt & Co ""GmbH""", Acme`); a quote inside a quoted value is doubled. Spaces
 * around values are dropped. Throws on a quote left open, with what to do.
 */
export function splitValues(raw: string): string[] {
  const values: string[] = [];
  let i = 0;
  for (;;) {
    while (raw[i] === ' ') i++;
    let value = '';
    if (raw[i] === '"') {
      i++;
      for (;;) {
        if (i >= raw.length) throw new Error('A quoted value has no closing quote: end it with ".');
        if (raw[i] === '"' && raw[i + 1] === '"') {
          value += '"';
          i += 2;
        } else if (raw[i] === '"') {
          i++;
          break;
        } else {
          value += raw[i]!;
          i++;
        }
      }
      while (raw[i] === ' ') i++;
      if (i < raw.length && raw[i] !== ',') {
        throw new Error('Put a comma after a quoted value, or quote the whole value.');
      }
    } else {
      const end = raw.indexOf(',', i);
      value = (end < 0 ? raw.slice(i) : raw.slice(i, end)).trim();
      i = end < 0 ? raw.length : end;
    }
    values.push(value);
    if (i >= raw.length) return values;
    i++; // the comma
  }
}
