import { describe, expect, it } from 'vitest';
import type { Solver } from '../../api/solvers.ts';
import { beforeValidation } from './issue.ts';

const http01 = (over: Partial<Solver> = {}, http: object = {}) => ({ http01: http, ...over }) as Solver;
const dns01 = (over: Partial<Solver> = {}) => ({ dns01: { rfc2136: { nameserver: 'ns:53' } }, ...over }) as Solver;
const opts = { pending: true, routeSettleMs: 3000, selfCheck: true };

describe('beforeValidation', () => {
  it.each([
    ['HTTP-01 on certkeeper\'s own port: the self-check, no settle wait', http01(), opts, { waitMs: 0, check: true }],
    ['HTTP-01 through an Ingress: the settle wait, then the self-check', http01({}, { ingress: { ingressClassName: 'nginx' } }), opts, { waitMs: 3000, check: true }],
    ['HTTP-01 with the self-check switched off', http01(), { ...opts, selfCheck: false }, { waitMs: 0, check: false }],
    ['HTTP-01 with waitInsteadOfSelfCheck: 30s: a wait, no check, no settle', http01({ waitInsteadOfSelfCheck: '30s' }, { ingress: {} }), opts, { waitMs: 30_000, check: false }],
    ['HTTP-01 with waitInsteadOfSelfCheck: 0s: the CA at once', http01({ waitInsteadOfSelfCheck: '0s' }), opts, { waitMs: 0, check: false }],
    ['HTTP-01 the CA already works on: nothing', http01(), { ...opts, pending: false }, { waitMs: 0, check: false }],
    ['DNS-01: the authoritative check', dns01(), opts, { waitMs: 0, check: true }],
    ['DNS-01 with waitInsteadOfSelfCheck: 2m: a wait instead of the check', dns01({ waitInsteadOfSelfCheck: '2m' }), opts, { waitMs: 120_000, check: false }],
    ['DNS-01 with waitInsteadOfSelfCheck, the CA already working: nothing', dns01({ waitInsteadOfSelfCheck: '2m' }), { ...opts, pending: false }, { waitMs: 0, check: false }],
    ['DNS-01 without it, the CA already working: the check still runs (the record must be there)', dns01(), { ...opts, pending: false }, { waitMs: 0, check: true }],
  ])('%s', (_name, solver, o, expected) => {
    expect(beforeValidation(solver, o)).toEqual(expected);
  });
});
