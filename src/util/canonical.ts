// A key-order-independent JSON form, to tell whether a status really changed.
// Written out directly rather than with a JSON.stringify replacer that copies
// every object into sorted entries: every sync computes it twice, and at
// start-up with 10,000 Certificates those copies were 150 MB of garbage.
export function canonicalJson(value: unknown): string {
  return write(value) ?? 'null';
}

/** The JSON of value with object keys sorted; undefined where JSON.stringify leaves a value out. */
function write(value: unknown): string | undefined {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'string':
    case 'number':
    case 'boolean':
      return JSON.stringify(value);
    case 'object':
      break;
    default:
      // undefined, functions and symbols: left out (in arrays: null), as JSON.stringify does.
      return undefined;
  }
  const withJson = value as { toJSON?: () => unknown };
  if (typeof withJson.toJSON === 'function') return write(withJson.toJSON());
  if (Array.isArray(value)) {
    let out = '[';
    for (let i = 0; i < value.length; i++) out += (i > 0 ? ',' : '') + (write(value[i]) ?? 'null');
    return `${out}]`;
  }
  const object = value as Record<string, unknown>;
  const keys = Object.keys(object).sort();
  let out = '{';
  for (const key of keys) {
    const text = write(object[key]);
    if (text === undefined) continue;
    out += `${out.length > 1 ? ',' : ''}${JSON.stringify(key)}:${text}`;
  }
  return `${out}}`;
}
