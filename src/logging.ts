// Structured logs with pino: JSON by default (for log pipelines), or one
// readable line per record for a person at a terminal (--log-format text).
// Key material is never logged; redactKeyMaterial is a second line of defence.
import { Writable } from 'node:stream';
import pino, { type Logger } from 'pino';

const LEVELS: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
const OMIT = new Set(['level', 'time', 'msg', 'pid', 'hostname', 'component']);

/** Turns one pino JSON record into "time LEVEL message key=value ...". */
export function formatText(line: string): string {
  let record: Record<string, unknown>;
  try {
    record = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line;
  }
  const time = new Date(Number(record.time)).toISOString();
  const level = (LEVELS[Number(record.level)] ?? String(record.level)).padEnd(5);
  const fields = Object.entries(record)
    .filter(([k]) => !OMIT.has(k))
    .map(([k, v]) => `${k}=${typeof v === 'string' && !/\s/.test(v) ? v : JSON.stringify(v)}`);
  return `${time} ${level} ${record.msg ?? ''}${fields.length ? `  ${fields.join(' ')}` : ''}`;
}

/** Keys whose values are never written, at the top of a record or one object down. */
const REDACTED = new Set(['hmacKey', 'keyPem', 'privateKey', 'data']);

/**
 * The record with REDACTED keys' values replaced, at the top level and in
 * plain objects one level down; the same object when there is nothing to
 * replace. Done in pino's formatters rather than with its `redact` option,
 * which ran every value of every record and child logger's bindings through
 * a path parser (two child loggers per sync: 70 MB of garbage at a start with
 * 10,000 Certificates).
 */
export function redactKeyMaterial(record: Record<string, unknown>): Record<string, unknown> {
  let copy: Record<string, unknown> | undefined;
  for (const key in record) {
    const value = record[key];
    let replaced = value;
    if (REDACTED.has(key)) replaced = '[redacted]';
    else if (isPlainObject(value)) {
      let inner: Record<string, unknown> | undefined;
      for (const innerKey in value) {
        if (REDACTED.has(innerKey)) (inner ??= { ...value })[innerKey] = '[redacted]';
      }
      if (inner) replaced = inner;
    }
    if (replaced !== value) (copy ??= { ...record })[key] = replaced;
  }
  return copy ?? record;
}

/** Plain objects only: an Error copied with spread would lose its message and stack. */
function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object') return false;
  const prototype = Object.getPrototypeOf(value) as unknown;
  return prototype === Object.prototype || prototype === null;
}

export function createLogger(opts: { level: string; format: 'json' | 'text' }, out: NodeJS.WritableStream = process.stdout): Logger {
  const options = {
    level: opts.level,
    base: { component: 'certkeeper' },
    formatters: { log: redactKeyMaterial },
    // Child loggers' bindings skip the formatters; serializers of these keys reach them too.
    serializers: Object.fromEntries([...REDACTED].map((key) => [key, () => '[redacted]'])),
  };
  if (opts.format === 'json') return pino(options, out as pino.DestinationStream);
  let pending = '';
  const text = new Writable({
    write(chunk: Buffer, _encoding, done) {
      pending += chunk.toString('utf8');
      let newline: number;
      while ((newline = pending.indexOf('\n')) >= 0) {
        out.write(`${formatText(pending.slice(0, newline))}\n`);
        pending = pending.slice(newline + 1);
      }
      done();
    },
  });
  return pino(options, text);
}
