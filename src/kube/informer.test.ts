import { describe, expect, it } from 'vitest';
import { InformerView, keyOf, resourceVersionAtLeast, splitKey, type ChangeHandler } from './informer.ts';

describe('resourceVersionAtLeast', () => {
  it.each([
    ['100', '100', true],
    ['101', '100', true],
    ['99', '100', false],
    // Compared as numbers, not strings ("1000" < "999" as text).
    ['1000', '999', true],
    ['999', '1000', false],
    [undefined, '100', false],
    // Not etcd-style: only equality counts.
    ['abc', 'abc', true],
    ['abd', 'abc', false],
  ])('seen %s, written %s → %s', (seen, written, expected) => {
    expect(resourceVersionAtLeast(seen, written)).toBe(expected);
  });
});

describe('keys', () => {
  it('round-trips namespaced and cluster-scoped names', () => {
    expect(splitKey(keyOf({ namespace: 'apps', name: 'web' }))).toEqual({ namespace: 'apps', name: 'web' });
    expect(splitKey(keyOf({ name: 'gts' }))).toEqual({ name: 'gts' });
  });
});

describe('InformerView', () => {
  type Obj = { metadata: { namespace: string; name: string; owner?: string }; body: string };
  // A source that tells of changes the way an Informer does: (key, current, previous).
  function source(initial: Obj[] = []) {
    const objects = new Map(initial.map((o) => [keyOf(o.metadata), o]));
    const handlers: ChangeHandler<Obj>[] = [];
    return {
      onChange: (h: ChangeHandler<Obj>) => handlers.push(h),
      list: () => [...objects.values()],
      hasSynced: true,
      waitForSync: () => Promise.resolve(),
      set(o: Obj | undefined, key = o && keyOf(o.metadata)) {
        const previous = objects.get(key!);
        if (o) objects.set(key!, o); else objects.delete(key!);
        for (const h of handlers) h(key!, o, previous);
      },
    };
  }
  const obj = (name: string, owner?: string, body = '{}'): Obj => ({ metadata: { namespace: 'ns', name, ...(owner ? { owner } : {}) }, body });
  const view = (s: ReturnType<typeof source>, decoded: string[] = []) => new InformerView(s, {
    keyOf: (o: Obj) => keyOf(o.metadata),
    keep: (o) => o.metadata.owner !== undefined,
    view: (o) => { decoded.push(o.metadata.name); return { name: o.metadata.name, spec: JSON.parse(o.body) as unknown }; },
  });

  it('keeps only the objects it wants, in its own shape, and decodes only those', () => {
    const s = source([obj('a', 'ing'), obj('b')]);
    const decoded: string[] = [];
    const v = view(s, decoded);
    s.set(obj('c', 'ing', '{"x":1}'));
    s.set(obj('d'));
    expect(v.list()).toEqual([{ name: 'a', spec: {} }, { name: 'c', spec: { x: 1 } }]);
    expect(decoded).toEqual(['a', 'c']);
  });

  it('tells its handlers of keys in the view only, with the previous view', () => {
    const s = source();
    const v = view(s);
    const heard: [string, unknown, unknown][] = [];
    v.onChange((key, current, previous) => heard.push([key, current, previous]));
    s.set(obj('other'));
    s.set(obj('mine', 'ing', '{"v":1}'));
    s.set(obj('mine', 'ing', '{"v":2}'));
    // The owner reference removed: the object leaves the view, and handlers hear so.
    s.set(obj('mine'));
    s.set(obj('gone', 'ing'));
    s.set(undefined, 'ns/gone');
    expect(heard).toEqual([
      ['ns/mine', { name: 'mine', spec: { v: 1 } }, undefined],
      ['ns/mine', { name: 'mine', spec: { v: 2 } }, { name: 'mine', spec: { v: 1 } }],
      ['ns/mine', undefined, { name: 'mine', spec: { v: 2 } }],
      ['ns/gone', { name: 'gone', spec: {} }, undefined],
      ['ns/gone', undefined, { name: 'gone', spec: {} }],
    ]);
    expect(v.size).toBe(0);
    expect(v.get('ns/mine')).toBeUndefined();
  });
});
