// A TCP forwarder: the stand-in for a load balancer in front of the node
// cluster. It makes a loopback-only server (the GTS-like CA) reachable at the
// machine's own address for Pods, and lets Pebble's HTTP-01 validation reach a
// Service inside the cluster (kube-proxy routes the machine's own connections
// to a ClusterIP). Listens where told, forwards to one target, closes every
// connection on stop.
import net from 'node:net';

export interface TcpForwarder {
  host: string;
  port: number;
  /** Points new connections elsewhere (e.g. at a Service created later). */
  retarget(host: string, port: number): void;
  stop(): Promise<void>;
}

export async function startTcpForwarder(opts: { listenHost: string; listenPort?: number; targetHost: string; targetPort: number }): Promise<TcpForwarder> {
  let target = { host: opts.targetHost, port: opts.targetPort };
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(target.port, target.host);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.once('close', () => sockets.delete(s));
      s.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.listenPort ?? 0, opts.listenHost, () => resolve());
  });
  const address = server.address() as net.AddressInfo;
  return {
    host: opts.listenHost,
    port: address.port,
    retarget(host, port) {
      target = { host, port };
    },
    stop: () => new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    }),
  };
}
