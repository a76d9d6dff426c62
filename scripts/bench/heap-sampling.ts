// A preload for the operator process that samples its allocations from the
// start, keeping the samples of objects already collected: what a start-up
// allocates in all, not what is left of it (a heap snapshot's view). The
// profile goes to bench/profiles/allocations-<pid>.heapprofile after
// CERTKEEPER_HEAP_SAMPLING_SECONDS (default 5); summarize it with
// scripts/bench/profile.ts. For example, one restart on 10,000 Certificates:
//
//   npm run bench -- --only scale --restarts 1 --unrelated 0 \
//     --operator-node-options="--import $PWD/scripts/bench/heap-sampling.ts"
//   node scripts/bench/profile.ts bench/profiles/allocations-*.heapprofile
import { mkdirSync, writeFileSync } from 'node:fs';
import inspector from 'node:inspector';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const seconds = Number(process.env.CERTKEEPER_HEAP_SAMPLING_SECONDS ?? 5);
const dir = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'bench', 'profiles');
const session = new inspector.Session();
session.connect();
session.post('HeapProfiler.enable');
// One sample per 32 KiB allocated on average; collected objects stay in the profile.
session.post('HeapProfiler.startSampling', { samplingInterval: 32 * 1024, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
setTimeout(() => {
  session.post('HeapProfiler.stopSampling', (error, result) => {
    if (error) return;
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, `allocations-${process.pid}.heapprofile`), JSON.stringify((result as { profile: unknown }).profile));
  });
}, seconds * 1000).unref();
