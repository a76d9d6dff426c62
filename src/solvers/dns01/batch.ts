// Batches TXT changes per zone for providers whose API changes several record
// sets in one request (Route 53's ChangeResourceRecordSets, Cloud DNS's
// changes): the presents and clean-ups that arrive within a short window (an
// order's authorizations are solved together) are handed to the provider's
// apply function as one list, and each caller learns that list's outcome.

export interface TxtEdit {
  /** Lowercase, with the trailing dot. */
  fqdn: string;
  value: string;
  add: boolean;
}

/** The values after the edits for one name, in order; adding a present value or removing an absent one changes nothing. */
export function applyEdits(before: string[], edits: TxtEdit[]): string[] {
  let after = [...before];
  for (const e of edits) after = e.add ? (after.includes(e.value) ? after : [...after, e.value]) : after.filter((v) => v !== e.value);
  return after;
}

export const sameValues = (a: string[], b: string[]) => a.length === b.length && a.every((v) => b.includes(v));

/** Groups edits by name, keeping their order. */
export function byName(edits: TxtEdit[]): Map<string, TxtEdit[]> {
  const out = new Map<string, TxtEdit[]>();
  for (const e of edits) out.set(e.fqdn, [...out.get(e.fqdn) ?? [], e]);
  return out;
}

export class ZoneBatcher {
  readonly #apply: (zone: string, edits: TxtEdit[]) => Promise<void>;
  readonly #windowMs: number;
  readonly #pending = new Map<string, { edits: TxtEdit[]; waiters: { resolve: () => void; reject: (e: unknown) => void }[] }>();

  constructor(apply: (zone: string, edits: TxtEdit[]) => Promise<void>, windowMs = 20) {
    this.#apply = apply;
    this.#windowMs = windowMs;
  }

  enqueue(zone: string, fqdn: string, value: string, add: boolean): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let batch = this.#pending.get(zone);
      if (!batch) {
        const created = { edits: [] as TxtEdit[], waiters: [] as { resolve: () => void; reject: (e: unknown) => void }[] };
        this.#pending.set(zone, batch = created);
        setTimeout(() => {
          this.#pending.delete(zone);
          this.#apply(zone, created.edits).then(
            () => created.waiters.forEach((w) => w.resolve()),
            (error: unknown) => created.waiters.forEach((w) => w.reject(error)),
          );
        }, this.#windowMs);
      }
      batch.edits.push({ fqdn: `${fqdn.toLowerCase().replace(/\.$/, '')}.`, value, add });
      batch.waiters.push({ resolve, reject });
    });
  }
}
