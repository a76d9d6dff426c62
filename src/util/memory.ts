// V8 gives freed heap pages back to the system only when its memory reducer
// runs, and it starts that by itself only once the process looks idle: after
// a busy start (thousands of Certificates listed and synced) ~30-50 MiB can
// stay resident for minutes. Disposing a V8 context is the public signal that
// garbage is likely; the reducer then runs after its start delay (set in
// main.ts). Costs one tiny context, once.
import vm from 'node:vm';

export function hintMemoryReducer(): void {
  vm.runInNewContext('0');
}

/**
 * Calls `hint` once, the first time `isIdle` holds after the start-up burst
 * (checked every second), then stops. Returns a function that stops waiting.
 */
export function afterStartupBurst(isIdle: () => boolean, hint: () => void = hintMemoryReducer, intervalMs = 1_000): () => void {
  const timer = setInterval(() => {
    if (!isIdle()) return;
    clearInterval(timer);
    hint();
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
