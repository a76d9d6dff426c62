import { describe, expect, it } from 'vitest';
import { loadConnection, type Environment } from './config.ts';

const b64 = (s: string) => Buffer.from(s).toString('base64');

function environment(files: Record<string, string>, env: NodeJS.ProcessEnv = {}): Environment {
  return { env, homedir: '/home/me', readFile: (file) => files[file] };
}

const kubeconfig = (user: Record<string, unknown>, cluster: Record<string, unknown> = {}) => JSON.stringify({
  apiVersion: 'v1',
  kind: 'Config',
  'current-context': 'ctx',
  clusters: [{ name: 'c', cluster: { server: 'https://api.example:6443', 'certificate-authority-data': b64('CA PEM'), ...cluster } }],
  users: [{ name: 'u', user }],
  contexts: [{ name: 'ctx', context: { cluster: 'c', user: 'u' } }],
});

describe('loadConnection', () => {
  it('reads server, CA and a bearer token from ~/.kube/config', async () => {
    const conn = await loadConnection(undefined, environment({ '/home/me/.kube/config': kubeconfig({ token: 't0k3n' }) }));
    expect(conn.server.href).toBe('https://api.example:6443/');
    expect(conn.tls).toMatchObject({ ca: 'CA PEM', rejectUnauthorized: true });
    expect(await conn.headers()).toEqual({ authorization: 'Bearer t0k3n' });
    expect(conn.source).toBe('/home/me/.kube/config');
  });

  it('prefers $KUBECONFIG (first existing file) over the home directory', async () => {
    const env = environment({ '/b': kubeconfig({ token: 'from-b' }), '/home/me/.kube/config': kubeconfig({ token: 'home' }) }, { KUBECONFIG: '/a:/b' });
    expect(await (await loadConnection(undefined, env)).headers()).toEqual({ authorization: 'Bearer from-b' });
  });

  it('resolves client certificate and token files relative to the kubeconfig', async () => {
    const env = environment({
      '/cfg/kubeconfig': kubeconfig({ 'client-certificate': 'crt.pem', 'client-key': 'key.pem', tokenFile: 'token' }, { 'certificate-authority-data': undefined, 'certificate-authority': 'ca.pem', 'insecure-skip-tls-verify': false, 'tls-server-name': 'kubernetes' }),
      '/cfg/crt.pem': 'CERT', '/cfg/key.pem': 'KEY', '/cfg/ca.pem': 'CA', '/cfg/token': 'file-token\n',
    });
    const conn = await loadConnection('/cfg/kubeconfig', env);
    expect(conn.tls).toEqual({ ca: 'CA', cert: 'CERT', key: 'KEY', rejectUnauthorized: true, servername: 'kubernetes' });
    expect(await conn.headers()).toEqual({ authorization: 'Bearer file-token' });
  });

  it('honours insecure-skip-tls-verify and basic auth', async () => {
    const conn = await loadConnection('/k', environment({ '/k': kubeconfig({ username: 'admin', password: 'pw' }, { 'insecure-skip-tls-verify': true }) }));
    expect(conn.tls.rejectUnauthorized).toBe(false);
    expect(await conn.headers()).toEqual({ authorization: `Basic ${b64('admin:pw')}` });
  });

  it('uses the in-cluster service account, re-reading the rotating token', async () => {
    const files: Record<string, string> = {
      '/var/run/secrets/kubernetes.io/serviceaccount/ca.crt': 'CLUSTER CA',
      '/var/run/secrets/kubernetes.io/serviceaccount/token': 'first',
    };
    const conn = await loadConnection(undefined, environment(files, { KUBERNETES_SERVICE_HOST: '10.0.0.1', KUBERNETES_SERVICE_PORT: '443' }));
    expect(conn.server.href).toBe('https://10.0.0.1/');
    expect(conn.tls.ca).toBe('CLUSTER CA');
    expect(await conn.headers()).toEqual({ authorization: 'Bearer first' });
    files['/var/run/secrets/kubernetes.io/serviceaccount/token'] = 'rotated';
    expect(await conn.headers()).toEqual({ authorization: 'Bearer rotated' });
  });

  it('says clearly when there is nothing to connect to', async () => {
    await expect(loadConnection(undefined, environment({}))).rejects.toThrow('no kubeconfig found');
    await expect(loadConnection('/missing', environment({}))).rejects.toThrow('kubeconfig /missing not found');
    const noContext = JSON.stringify({ clusters: [], users: [], contexts: [] });
    await expect(loadConnection('/k', environment({ '/k': noContext }))).rejects.toThrow('has no current context');
  });
});
