// The certkeeper command line: `certkeeper controller` runs the operator;
// `certkeeper account` backs up and imports account keys (src/cli/account.ts);
// `certkeeper convert` and `certkeeper migrate` move users off cert-manager (src/cli/convert.ts, migrate.ts).
import v8 from 'node:v8';
import { controllerFlags, parseControllerConfig, UsageError } from './config.ts';
import { createLogger } from './logging.ts';

const USAGE = `certkeeper: Kubernetes operator for ACME and locally signed certificates (one registration per EAB key, ever)

Usage:
  certkeeper controller [flags]   run the operator against the cluster in KUBECONFIG or in-cluster
  certkeeper account import|export|register|backup  back up, restore, migrate or share across clusters ACME account keys (see "certkeeper account --help")
  certkeeper status certificate|issuer|clusterissuer NAME [-n NS]   conditions, order, Secret, account, EAB ledger, events
  certkeeper renew NAME... | --all [-n NS | -A] [-l SEL]   issue again now (once per request)
  certkeeper inspect secret NAME [-n NS]   the certificates and key in a TLS Secret (no key material)
  certkeeper completion bash|zsh  shell completion (source <(certkeeper completion bash))
  certkeeper convert -f FILE|DIR  cert-manager manifests in, certkeeper manifests out, with what was not carried over (see "certkeeper convert --help")
  certkeeper migrate [--apply]    move a cluster's cert-manager issuers (ACME, selfSigned, ca), certificates and CA injection annotations, adopting account keys, CA key pairs and TLS Secrets (see "certkeeper migrate --help")
  certkeeper --help               show this help
  certkeeper version [--client]   this command's version and the operator's running in the cluster
  certkeeper --version            print the version

controller flags:
${Object.entries(controllerFlags).map(([name, f]) => `  --${name.padEnd(28)} ${f.description}`).join('\n')}
`;

async function runController(args: string[]): Promise<number> {
  const config = parseControllerConfig(args, process.env);
  if (config === 'help') {
    process.stdout.write(USAGE);
    return 0;
  }
  const log = createLogger({ level: config.logLevel, format: config.logFormat });
  // A long-running process whose memory is mostly caches: after each full GC,
  // let the heap grow by 10 % over what is live instead of V8's default
  // (up to 2x and more), at the cost of more frequent GCs. The image also
  // starts node with a small young generation (Dockerfile ENTRYPOINT).
  // Set at run time so an unknown flag in a future V8 is ignored, not fatal.
  v8.setFlagsFromString('--heap-growing-percent=10');
  // Give freed pages back 2 s (not 8) after V8 is told garbage is likely (src/util/memory.ts).
  v8.setFlagsFromString('--gc-memory-reducer-start-delay-ms=2000');
  const { connect, startOperator } = await import('./operator.ts');
  let kube;
  try {
    kube = await connect(config);
  } catch (error) {
    process.stderr.write(`certkeeper: ${(error as Error).message}\n`);
    return 1;
  }
  let operator;
  try {
    operator = await startOperator(config, kube, log);
  } catch (error) {
    kube.close();
    if (error instanceof UsageError) {
      // One line that names the flag; exit 2 like any other usage error.
      process.stderr.write(`certkeeper: ${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
  const exitCode = await new Promise<number>((resolve) => {
    const shutdown = (signal: string) => {
      log.info({ signal }, 'shutting down: finishing in-flight work');
      resolve(0);
    };
    process.once('SIGTERM', () => shutdown('SIGTERM'));
    process.once('SIGINT', () => shutdown('SIGINT'));
    void operator.fatal.then((error) => {
      log.error({ err: error.message }, 'stopping');
      resolve(1);
    });
  });
  // The grace period fits the pod's (30 s in the chart); CERTKEEPER_SHUTDOWN_GRACE_SECONDS overrides it.
  const graceSeconds = Number(process.env.CERTKEEPER_SHUTDOWN_GRACE_SECONDS ?? 20);
  await operator.stop(Number.isFinite(graceSeconds) ? graceSeconds * 1000 : undefined);
  log.info('stopped');
  // Abandoned work may still hold sockets open: exit rather than wait for it.
  log.flush();
  process.exit(exitCode);
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'controller':
        return await runController(rest);
      case 'account':
        // Loaded on demand: each command pulls in only what it needs.
        return await (await import('./cli/account.ts')).runAccount(rest);
      case 'status':
        return await (await import('./cli/status.ts')).runStatus(rest);
      case 'renew':
        return await (await import('./cli/renew.ts')).runRenew(rest);
      case 'inspect':
        return await (await import('./cli/inspect.ts')).runInspect(rest);
      case 'completion':
        return (await import('./cli/completion.ts')).runCompletion(rest, { stdout: (t) => process.stdout.write(t), stderr: (t) => process.stderr.write(t) });
      case 'migrate':
        return await (await import('./cli/migrate.ts')).runMigrate(rest);
      case 'convert':
        return await (await import('./cli/convert.ts')).runConvert(rest);
      case '--version':
        process.stdout.write(`certkeeper ${(await import('./cli/version.ts')).clientVersion()}\n`);
        return 0;
      case 'version':
        return await (await import('./cli/version.ts')).runVersion(rest);
      case undefined:
      case '--help':
      case '-h':
      case 'help':
        process.stdout.write(USAGE);
        return command === undefined ? 2 : 0;
      default:
        throw new UsageError(`unknown command "${command}"`);
    }
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`certkeeper: ${error.message}\nRun "certkeeper --help" for usage.\n`);
      return 2;
    }
    throw error;
  }
}

process.exitCode = await main(process.argv.slice(2));
