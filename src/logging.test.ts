import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger, formatText } from './logging.ts';

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
  });

  it('passes through lines that are not JSON', () => {
    expect(formatText('plain')).toBe('plain');
  });
});
