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

/**
 * Whether two values have the same JSON (canonicalJson(a) === canonicalJson(b))
 * without writing either: a sync compares its status with the one it read,
 * and that comparison allocated more than the rest of a sync at rest.
 */
export function jsonEqual(a: unknown, b: unknown): boolean {
  // At the top, what JSON.stringify leaves out is written as null (see canonicalJson).
  a = jsonValue(a) ?? null;
  b = jsonValue(b) ?? null;
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!jsonEqual(inArray(a[i]), inArray(b[i]))) return false;
    return true;
  }
  const x = a as Record<string, unknown>;
  const y = b as Record<string, unknown>;
  let count = 0;
  for (const key in x) {
    if (!Object.hasOwn(x, key) || jsonValue(x[key]) === undefined) continue;
    count++;
    if (!Object.hasOwn(y, key) || !jsonEqual(x[key], y[key])) return false;
  }
  for (const key in y) if (Object.hasOwn(y, key) && jsonValue(y[key]) !== undefined) count--;
  return count === 0;
}

/** What JSON.stringify writes for a value: toJSON applied, null for NaN and ±Infinity; undefined for what it leaves out. */
function jsonValue(value: unknown): unknown {
  if (value === undefined || typeof value === 'function' || typeof value === 'symbol') return undefined;
  if (typeof value === 'number' && !Number.isFinite(value)) return null;
  if (value !== null && typeof value === 'object' && typeof (value as { toJSON?: unknown }).toJSON === 'function') return (value as { toJSON: () => unknown }).toJSON();
  return value;
}

/** In an array, what JSON.stringify leaves out is written as null. */
const inArray = (value: unknown) => jsonValue(value) ?? null;
