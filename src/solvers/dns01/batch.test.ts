import { describe, expect, it } from 'vitest';
import { applyEdits, ZoneBatcher, type TxtEdit } from './batch.ts';

const edit = (value: string, add = true, fqdn = '_acme-challenge.example.com.'): TxtEdit => ({ fqdn, value, add });

describe('TXT change batches', () => {
  it('applies edits in order: an added value once, a removed one gone, absent ones ignored', () => {
    expect(applyEdits(['a'], [edit('b'), edit('a'), edit('c', false), edit('a', false)])).toEqual(['b']);
  });

  it('hands the edits of one moment to apply as one list per zone, and each caller its outcome', async () => {
    const applied: [string, TxtEdit[]][] = [];
    const batcher = new ZoneBatcher(async (zone, edits) => {
      applied.push([zone, edits]);
      if (zone === 'broken.example') throw new Error('refused');
    }, 5);
    const results = await Promise.allSettled([
      batcher.enqueue('example.com', '_acme-challenge.Example.com', 'w', true),
      batcher.enqueue('example.com', '_acme-challenge.example.com.', 'b', true),
      batcher.enqueue('broken.example', '_acme-challenge.broken.example.', 'x', false),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected']);
    expect(applied).toEqual([
      ['example.com', [edit('w'), edit('b')]],
      ['broken.example', [edit('x', false, '_acme-challenge.broken.example.')]],
    ]);
    // A later edit starts a new batch.
    await batcher.enqueue('example.com', '_acme-challenge.example.com.', 'w', false);
    expect(applied).toHaveLength(3);
  });
});
