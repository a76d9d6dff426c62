// Child processes of the test environment (Pebble, challtestsrv, named): started
// with output appended to a log file, awaited until ready (failing early with the
// log's tail if they die first), stopped with SIGTERM then SIGKILL, and SIGKILLed
// as a last resort when this process exits without stopping them.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';

// A crashed test run must not leave servers listening.
const living = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of living) {
    try {
      c.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
});

/**
 * detached: the child gets a process group of its own, so a Ctrl-C in the
 * terminal reaches only the environment, which then stops it in order (the node
 * cluster needs its API server, kubelet and containerd alive to remove Pods).
 */
export function startChild(bin: string, args: string[], logFile: string, env: NodeJS.ProcessEnv = {}, opts: { detached?: boolean } = {}): ChildProcess {
  const fd = fs.openSync(logFile, 'a');
  const child = spawn(bin, args, { stdio: ['ignore', fd, fd], env: { ...process.env, ...env }, detached: opts.detached ?? false });
  fs.closeSync(fd);
  living.add(child);
  child.once('exit', () => living.delete(child));
  return child;
}

/** Awaits ready(), failing early (with the log's tail) if the child dies first. */
export async function waitForChild(child: ChildProcess, name: string, ready: () => Promise<void>, logFile: string): Promise<void> {
  const died = new Promise<never>((_, reject) => {
    const onExit = (code: number | null, signal: string | null) => {
      const tail = fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8').split('\n').slice(-20).join('\n') : '';
      reject(new Error(`${name} exited (code ${code}, signal ${signal}) before it was ready:\n${tail}`));
    };
    if (child.exitCode !== null || child.signalCode !== null) onExit(child.exitCode, child.signalCode);
    else child.once('exit', onExit);
  });
  died.catch(() => {}); // handled by the race below; avoid an unhandled rejection after success
  await Promise.race([ready(), died]);
}

export async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}
