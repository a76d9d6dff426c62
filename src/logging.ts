// Structured logs with pino: JSON by default (for log pipelines), or one
// readable line per record for a person at a terminal (--log-format text).
// Key material is never logged; the redact list is a second line of defence.
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

export function createLogger(opts: { level: string; format: 'json' | 'text' }, out: NodeJS.WritableStream = process.stdout): Logger {
  const options = {
    level: opts.level,
    base: { component: 'certkeeper' },
    redact: { paths: ['hmacKey', 'keyPem', 'privateKey', '*.hmacKey', '*.keyPem', '*.privateKey', 'data', '*.data'], censor: '[redacted]' },
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
