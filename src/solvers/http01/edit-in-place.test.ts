import { isDeepStrictEqual } from 'node:util';
import { describe, expect, it } from 'vitest';
import { addPathPatch, editedIngresses, removePathPatch, type IngressObject, type PathEdit } from './edit-in-place.ts';
import { withIngressOverride } from './routes.ts';

const edit: PathEdit = { host: 'www.example.com', path: '/.well-known/acme-challenge/tok', serviceName: 'certkeeper-http01-abc', port: 8089 };
const userPath = { path: '/', pathType: 'Prefix', backend: { service: { name: 'web', port: { number: 80 } } } };

function ingress(spec: IngressObject['spec']): IngressObject {
  return { metadata: { name: 'web', namespace: 'app', resourceVersion: '7' }, spec };
}

/** Applies the operations the way the API server does (RFC 6902 test/add/remove), failing on a failed test. */
function apply(object: IngressObject, operations: { op: string; path: string; value?: unknown }[]): IngressObject {
  const copy = structuredClone(object) as unknown as Record<string, unknown>;
  for (const { op, path, value } of operations) {
    const parts = path.split('/').slice(1);
    const last = parts.pop()!;
    let parent = copy as Record<string, unknown> | unknown[];
    for (const part of parts) parent = (parent as Record<string, unknown>)[part] as Record<string, unknown>;
    const target = parent as Record<string, unknown> & unknown[];
    if (op === 'test' && !isDeepStrictEqual(target[last as never], value)) throw new Error(`test failed at ${path}`);
    if (op === 'add' && Array.isArray(target)) target.splice(last === '-' ? target.length : Number(last), 0, value);
    else if (op === 'add') target[last] = value;
    if (op === 'remove' && Array.isArray(target)) target.splice(Number(last), 1);
    else if (op === 'remove') delete target[last];
  }
  return copy as unknown as IngressObject;
}

describe('editing an Ingress in place', () => {
  it('appends the path to the host\'s rule and removing it gives back exactly the user\'s spec', () => {
    const original = ingress({ rules: [{ host: 'other.example.com', http: { paths: [userPath] } }, { host: 'www.example.com', http: { paths: [userPath] } }] });
    const added = apply(original, addPathPatch(original, edit)!);
    expect(added.spec!.rules![1]!.http!.paths).toEqual([userPath, {
      path: '/.well-known/acme-challenge/tok', pathType: 'Exact', backend: { service: { name: 'certkeeper-http01-abc', port: { number: 8089 } } },
    }]);
    expect(added.spec!.rules![0]).toEqual(original.spec!.rules![0]);
    expect(addPathPatch(added, edit)).toBeUndefined();
    const removed = apply(added, removePathPatch(added, edit)!);
    expect(removed.spec).toEqual(original.spec);
    expect(removePathPatch(removed, edit)).toBeUndefined();
  });

  it('adds a rule of its own when the host has none, and removes that whole rule (and the list it created) after', () => {
    const withOtherHost = ingress({ rules: [{ host: 'other.example.com', http: { paths: [userPath] } }] });
    const added = apply(withOtherHost, addPathPatch(withOtherHost, edit)!);
    expect(added.spec!.rules).toHaveLength(2);
    expect(added.spec!.rules![1]!.host).toBe('www.example.com');
    expect(apply(added, removePathPatch(added, edit)!).spec).toEqual(withOtherHost.spec);

    // A default backend only: the list is added with the resourceVersion pinned (an "add" replaces a list written meanwhile).
    const defaultOnly = ingress({ defaultBackend: { service: { name: 'web', port: { number: 80 } } } });
    const operations = addPathPatch(defaultOnly, edit)!;
    expect(operations[0]).toEqual({ op: 'test', path: '/metadata/resourceVersion', value: '7' });
    const addedList = apply(defaultOnly, operations);
    expect(apply(addedList, removePathPatch(addedList, edit)!).spec).toEqual(defaultOnly.spec);
  });

  it('does not put the path into a host-only rule (its removal could not tell the rule apart from the user\'s)', () => {
    const hostOnly = ingress({ rules: [{ host: 'www.example.com' }] });
    const added = apply(hostOnly, addPathPatch(hostOnly, edit)!);
    expect(added.spec!.rules![0]).toEqual({ host: 'www.example.com' });
    expect(apply(added, removePathPatch(added, edit)!).spec).toEqual(hostOnly.spec);
  });

  it('keeps what the user changed meanwhile and removes only its own path', () => {
    const original = ingress({ rules: [{ host: 'www.example.com', http: { paths: [userPath] } }] });
    const added = apply(original, addPathPatch(original, edit)!);
    // The user adds a path after certkeeper's, and a rule before it.
    const userApi = { path: '/api', pathType: 'Prefix', backend: { service: { name: 'api', port: { number: 80 } } } };
    added.spec!.rules![0]!.http!.paths!.push(userApi);
    added.spec!.rules!.unshift({ host: 'new.example.com', http: { paths: [userPath] } });
    const removed = apply(added, removePathPatch(added, edit)!);
    expect(removed.spec!.rules).toEqual([{ host: 'new.example.com', http: { paths: [userPath] } }, { host: 'www.example.com', http: { paths: [userPath, userApi] } }]);
  });

  it('pins what it removes: a patch planned from an older read fails instead of removing something else', () => {
    const original = ingress({ rules: [{ host: 'www.example.com', http: { paths: [userPath] } }] });
    const added = apply(original, addPathPatch(original, edit)!);
    const operations = removePathPatch(added, edit)!;
    // The user reorders the paths before the patch arrives: index 1 is now theirs.
    const reordered = structuredClone(added);
    reordered.spec!.rules![0]!.http!.paths!.reverse();
    expect(() => apply(reordered, operations)).toThrow('test failed');
    // Planned again from the fresh read, it removes the right one.
    expect(apply(reordered, removePathPatch(reordered, edit)!).spec).toEqual(original.spec);
  });

  it('never removes a path that only looks like its own (same path, another backend)', () => {
    const users = ingress({ rules: [{ host: 'www.example.com', http: { paths: [{ ...userPath, path: edit.path }] } }] });
    expect(removePathPatch(users, edit)).toBeUndefined();
  });
});

describe('which Ingress is edited', () => {
  const solvers = [
    { http01: { ingress: { name: 'web' } } },
    { selector: { dnsNames: ['api.example.com'] }, http01: { ingress: { ingressClassName: 'nginx' } } },
    { selector: { dnsNames: ['gw.example.com'] }, http01: { gatewayHTTPRoute: { parentRefs: [{ name: 'gw' }] } } },
  ];

  it('follows the solver each name selects', () => {
    expect(editedIngresses(['www.example.com', 'shop.example.com', 'api.example.com'], solvers, {})).toEqual(['web']);
  });

  it('puts a Certificate\'s override into the http01 solvers that do not route through a Gateway', () => {
    const overridden = withIngressOverride(solvers, 'shop');
    expect(editedIngresses(['www.example.com', 'api.example.com', 'gw.example.com'], overridden, {})).toEqual(['shop']);
    expect(overridden[1]!.http01.ingress).toEqual({ ingressClassName: 'nginx', name: 'shop' });
    expect(overridden[2]).toBe(solvers[2]);
    expect(withIngressOverride(solvers, undefined)).toBe(solvers);
  });
});
