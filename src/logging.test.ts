import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger, formatText, redactKeyMaterial } from './logging.ts';

function capture(format: 'json' | 'text') {
  const out = new PassThrough();
  const lines: string[] = [];
  out.on('data', (c: Buffer) => lines.push(...c.toString().split('\n').filter(Boolean)));
  return { log: createLogger({ level: 'info', format }, out), lines };
}

describe('logging', () => {
  it('writes JSON records with the object\'s namespace and name', () => {
    const { log, lines } = capture('json');
    log.child({ controller: 'issuer', namespace: 'ns', name: 'gts' }).info('account ready');
    expect(JSON.parse(lines[0]!)).toMatchObject({ level: 30, controller: 'issuer', namespace: 'ns', name: 'gts', msg: 'account ready' });
  });

  it('writes one readable line per record in text format', () => {
    const { log, lines } = capture('text');
    log.warn({ namespace: 'ns', retryInMs: 2000 }, 'watch failed; restarting');
    expect(lines[0]).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z WARN  watch failed; restarting {2}namespace=ns retryInMs=2000$/);
  });

  it('redacts key material even if a caller passes it by mistake', () => {
    const { log, lines } = capture('json');
    log.info({ hmacKey: 'c2VjcmV0', eab: { hmacKey: 'c2VjcmV0' }, secret: { data: { 'tls.key': 'LS0t' } } }, 'oops');
    expect(lines[0]).not.toContain('c2VjcmV0');
    expect(lines[0]).not.toContain('LS0t');
    expect(JSON.parse(lines[0]!)).toMatchObject({ hmacKey: '[redacted]', eab: { hmacKey: '[redacted]' }, secret: { data: '[redacted]' }, msg: 'oops' });
    // In a child logger's bindings too, and a Secret passed whole; errors keep their message.
    log.child({ name: 'gts', keyPem: 'LS0tS0VZ' }).warn({ secret: { metadata: { name: 's' }, data: { 'tls.key': 'LS0t' } }, err: new Error('boom') }, 'oops again');
    expect(lines[1]).not.toContain('LS0t');
    expect(JSON.parse(lines[1]!)).toMatchObject({ name: 'gts', keyPem: '[redacted]', secret: { metadata: { name: 's' }, data: '[redacted]' }, err: { message: 'boom' } });
  });

  it('leaves a record without key material as it is (no copy)', () => {
    const record = { namespace: 'ns', nested: { name: 'n' }, list: [{ data: 'x' }] };
    expect(redactKeyMaterial(record)).toBe(record);
    expect(redactKeyMaterial({ data: 'x' })).toEqual({ data: '[redacted]' });
  });

  it('passes through lines that are not JSON', () => {
    expect(formatText('plain')).toBe('plain');
  });
});
