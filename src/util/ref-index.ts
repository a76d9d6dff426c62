// Which objects reference a thing (a Secret, an Issuer): ref → object keys.
// Most refs have exactly one referrer, so it is kept as a plain string and
// only becomes a Set when a second one appears (thousands of Sets of one
// element are most of such an index's memory).
export class RefIndex {
  private readonly refs = new Map<string, string | Set<string>>();

  add(ref: string, key: string): void {
    const current = this.refs.get(ref);
    if (current === undefined) this.refs.set(ref, key);
    else if (typeof current === 'string') {
      if (current !== key) this.refs.set(ref, new Set([current, key]));
    } else current.add(key);
  }

  delete(ref: string, key: string): void {
    const current = this.refs.get(ref);
    if (current === undefined) return;
    if (typeof current === 'string') {
      if (current === key) this.refs.delete(ref);
      return;
    }
    current.delete(key);
    if (current.size === 1) this.refs.set(ref, current.values().next().value!);
    else if (current.size === 0) this.refs.delete(ref);
  }

  /** The keys referencing ref (a copy: safe to modify the index while iterating). */
  get(ref: string): string[] {
    const current = this.refs.get(ref);
    if (current === undefined) return [];
    return typeof current === 'string' ? [current] : [...current];
  }

  has(ref: string): boolean {
    return this.refs.has(ref);
  }
}
