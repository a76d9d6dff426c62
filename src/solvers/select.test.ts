import { describe, expect, it } from 'vitest';
import type { Solver } from '../api/solvers.ts';
import { selectSolver } from './select.ts';

const http = (name: string, selector?: Solver['selector']): Solver => ({ http01: { ingress: { ingressClassName: name } }, ...(selector ? { selector } : {}) });
const dns = (name: string, selector?: Solver['selector']): Solver => ({ dns01: { rfc2136: { nameserver: name, tsigKeyName: 'k', tsigAlgorithm: 'HMACSHA256', tsigSecretSecretRef: { name: 's' } } }, ...(selector ? { selector } : {}) });
const pick = (solvers: Solver[], name: string, labels?: Record<string, string>) => {
  const s = selectSolver(solvers, name, labels);
  return s?.http01?.ingress?.ingressClassName ?? s?.dns01?.rfc2136?.nameserver;
};

describe('selectSolver', () => {
  const rows: [string, Solver[], string, Record<string, string> | undefined, string | undefined][] = [
    ['uses a solver without selector for any name', [http('default')], 'www.example.com', undefined, 'default'],
    ['prefers an exact dnsNames match over a zone', [http('zone', { dnsZones: ['example.com'] }), http('exact', { dnsNames: ['www.example.com'] })], 'www.example.com', undefined, 'exact'],
    ['prefers the longest matching zone', [http('short', { dnsZones: ['example.com'] }), http('long', { dnsZones: ['eu.example.com'] })], 'api.eu.example.com', undefined, 'long'],
    ['prefers a zone over no selector', [http('default'), http('zone', { dnsZones: ['example.com'] })], 'example.com', undefined, 'zone'],
    ['prefers more matching labels', [http('one', { matchLabels: { a: '1' } }), http('two', { matchLabels: { a: '1', b: '2' } })], 'x.example.com', { a: '1', b: '2' }, 'two'],
    ['skips a solver whose labels do not match', [http('labelled', { matchLabels: { team: 'a' } })], 'x.example.com', { team: 'b' }, undefined],
    ['skips a zone that does not contain the name', [http('other', { dnsZones: ['example.org'] })], 'www.example.com', undefined, undefined],
    ['does not match a zone by suffix alone', [http('zone', { dnsZones: ['ample.com'] })], 'www.example.com', undefined, undefined],
    ['keeps list order on a tie', [http('first'), http('second')], 'www.example.com', undefined, 'first'],
    ['needs dns01 for a wildcard', [http('http'), dns('dns')], '*.example.com', undefined, 'dns'],
    ['matches a wildcard against its zone', [dns('dns', { dnsZones: ['example.com'] })], '*.example.com', undefined, 'dns'],
  ];
  it.each(rows)('%s', (_name, solvers, dnsName, labels, expected) => {
    expect(pick(solvers, dnsName, labels)).toBe(expected);
  });
});
