// DNS-01 with the route53 solver against moto's server mode (a third-party AWS
// emulator: Route 53, IAM and STS), the real operator and the GTS-like CA.
// moto holds the hosted zone; a mirror copies its TXT records into the test
// BIND, where Pebble and the operator's propagation check look.
// - static keys from Secrets, with IAM authentication on in moto: a user whose
//   policy allows only the Route 53 actions certkeeper needs; a wrong secret key
//   is refused before any order;
// - web identity (IRSA): a ServiceAccount token from the real API server
//   (auth.kubernetes), and the SDK's default chain with a projected-token-like
//   file (AWS_WEB_IDENTITY_TOKEN_FILE), both exchanged at moto's STS.
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CreateAccessKeyCommand, CreateRoleCommand, CreateUserCommand, IAMClient, PutRolePolicyCommand, PutUserPolicyCommand } from '@aws-sdk/client-iam';
import { CreateHostedZoneCommand, ListResourceRecordSetsCommand, Route53Client } from '@aws-sdk/client-route-53';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { core, type KubeClient, type KubeObject } from '../src/kube/client.ts';
import { mirrorTxtToBind, startMoto, type RunningMoto } from './env/moto.ts';
import { createNamespace, env, kubeClient } from './helpers.ts';
import { createIssuer, createSecret, credentialsFailureWastesNoOrder, expectNoSecretsAnywhere, issueWildcardAndPlain, startDnsOperator } from './dns01-providers.ts';
import type { OperatorProcess } from './operator-process.ts';

const workDir = mkdtempSync(path.join(os.tmpdir(), 'certkeeper-route53-'));
const region = 'us-east-1';
const unique = () => Math.random().toString(36).slice(2, 8);

/** What certkeeper needs in Route 53 (README's least-privilege policy; moto authorizes against Resource "*"). */
const LEAST_PRIVILEGE = {
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Action: ['route53:GetChange', 'route53:GetHostedZone', 'route53:ChangeResourceRecordSets', 'route53:ListResourceRecordSets', 'route53:ListHostedZonesByName'], Resource: '*' }],
};

async function hostedZone(route53: Route53Client): Promise<string> {
  const zone = await route53.send(new CreateHostedZoneCommand({ Name: env().dns.zone, CallerReference: unique() }));
  return zone.HostedZone!.Id!.replace('/hostedzone/', '');
}

async function txtRecordsAt(route53: Route53Client, zoneId: string): Promise<string[]> {
  const sets = await route53.send(new ListResourceRecordSetsCommand({ HostedZoneId: zoneId }));
  return (sets.ResourceRecordSets ?? []).filter((s) => s.Type === 'TXT').map((s) => s.Name!);
}

let kube: KubeClient;
beforeAll(async () => {
  kube = await kubeClient();
});
afterAll(() => kube?.close());

describe('route53 with static credentials (moto with IAM authentication)', () => {
  let moto: RunningMoto;
  let operator: OperatorProcess;
  let mirror: ReturnType<typeof mirrorTxtToBind>;
  let admin: Route53Client;
  let zoneId: string;
  let ns: string;
  let systemNs: string;
  let key: { id: string; secret: string };

  beforeAll(async () => {
    // Three unauthenticated calls make the admin; everything after is signed and authorized.
    moto = await startMoto({ workDir, openActions: 3 });
    const open = new IAMClient({ region, endpoint: moto.url, credentials: { accessKeyId: 'AKIASETUP', secretAccessKey: 'setup' } });
    await open.send(new CreateUserCommand({ UserName: 'admin' }));
    await open.send(new PutUserPolicyCommand({ UserName: 'admin', PolicyName: 'all', PolicyDocument: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }] }) }));
    const adminKey = (await open.send(new CreateAccessKeyCommand({ UserName: 'admin' }))).AccessKey!;
    const adminCredentials = { accessKeyId: adminKey.AccessKeyId!, secretAccessKey: adminKey.SecretAccessKey! };
    const iam = new IAMClient({ region, endpoint: moto.url, credentials: adminCredentials });
    await iam.send(new CreateUserCommand({ UserName: 'certkeeper' }));
    await iam.send(new PutUserPolicyCommand({ UserName: 'certkeeper', PolicyName: 'dns01', PolicyDocument: JSON.stringify(LEAST_PRIVILEGE) }));
    const k = (await iam.send(new CreateAccessKeyCommand({ UserName: 'certkeeper' }))).AccessKey!;
    key = { id: k.AccessKeyId!, secret: k.SecretAccessKey! };
    admin = new Route53Client({ region, endpoint: moto.url, credentials: adminCredentials });
    zoneId = await hostedZone(admin);
    mirror = mirrorTxtToBind(admin, zoneId, env().dns);

    systemNs = await createNamespace(kube, 'r53-system');
    ns = await createNamespace(kube, 'r53');
    operator = await startDnsOperator(systemNs, { env: { AWS_ENDPOINT_URL: moto.url, AWS_EC2_METADATA_DISABLED: 'true' } });
    await createSecret(kube, ns, 'aws', { 'secret-access-key': key.secret });
    await createSecret(kube, ns, 'aws-wrong', { 'secret-access-key': 'wR0ngS3cretKeyValue-r53-never-valid' });
    await createIssuer(kube, {
      namespace: ns, name: 'route53', solvers: [{ dns01: { route53: { region, accessKeyID: key.id, secretAccessKeySecretRef: { name: 'aws', key: 'secret-access-key' } } } }],
    });
    await createIssuer(kube, {
      namespace: ns, name: 'route53-wrong', solvers: [{ dns01: { route53: { region, hostedZoneID: zoneId, accessKeyID: key.id, secretAccessKeySecretRef: { name: 'aws-wrong', key: 'secret-access-key' } } } }],
    });
  });

  afterAll(async () => {
    await operator?.stop();
    await mirror?.stop();
    await moto?.stop();
  });

  it('issues a wildcard and its base name, finding the hosted zone, and removes the records', async () => {
    await issueWildcardAndPlain(kube, {
      namespace: ns, name: 'static', base: `r53-${unique()}.${env().dns.zone}`, issuerRef: { name: 'route53' },
      recordsLeft: () => txtRecordsAt(admin, zoneId),
    });
    expect(mirror.errors).toEqual([]);
  });

  it('reports refused credentials as a condition without opening an order', async () => {
    const message = await credentialsFailureWastesNoOrder(kube, {
      namespace: ns, name: 'wrong', base: `r53w-${unique()}.${env().dns.zone}`, issuerRef: { name: 'route53-wrong' },
      expected: /^route53: GetHostedZone \S+: \S+.*\(Unauthorized: check the credentials and their permissions\)/,
    });
    expect(message).not.toContain(key.id.slice(4));
  });

  it('keeps the credentials out of logs, events and status', async () => {
    await expectNoSecretsAnywhere(kube, [ns, systemNs], [key.secret, 'wR0ngS3cretKeyValue-r53-never-valid']);
  });
});

describe('route53 with web identity (IRSA) through moto\'s STS', () => {
  let moto: RunningMoto;
  let operator: OperatorProcess;
  let mirror: ReturnType<typeof mirrorTxtToBind>;
  let route53: Route53Client;
  let zoneId: string;
  let roleArn: string;
  let ns: string;
  let systemNs: string;
  let token: string;

  beforeAll(async () => {
    moto = await startMoto({ workDir, openActions: 'all' });
    const credentials = { accessKeyId: 'AKIASETUP', secretAccessKey: 'setup' };
    const iam = new IAMClient({ region, endpoint: moto.url, credentials });
    roleArn = (await iam.send(new CreateRoleCommand({
      RoleName: 'certkeeper-dns01',
      AssumeRolePolicyDocument: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { Federated: 'arn:aws:iam::123456789012:oidc-provider/oidc.example' }, Action: 'sts:AssumeRoleWithWebIdentity' }] }),
    }))).Role!.Arn!;
    await iam.send(new PutRolePolicyCommand({ RoleName: 'certkeeper-dns01', PolicyName: 'dns01', PolicyDocument: JSON.stringify(LEAST_PRIVILEGE) }));
    route53 = new Route53Client({ region, endpoint: moto.url, credentials });
    zoneId = await hostedZone(route53);
    mirror = mirrorTxtToBind(route53, zoneId, env().dns);

    systemNs = await createNamespace(kube, 'r53id-system');
    ns = await createNamespace(kube, 'r53id');
    await kube.create(core.serviceaccounts, { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'dns01', namespace: ns } } as KubeObject);
    // The operator's own projected token, as EKS mounts it: a real token from the API server, in a file.
    await kube.create(core.serviceaccounts, { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'certkeeper', namespace: systemNs } } as KubeObject);
    const review = await kube.request<{ status: { token: string } }>('POST', `/api/v1/namespaces/${systemNs}/serviceaccounts/certkeeper/token`, {
      body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { audiences: ['sts.amazonaws.com'], expirationSeconds: 3600 } },
    }, 'write');
    token = review.status.token;
    const tokenFile = path.join(workDir, 'token');
    writeFileSync(tokenFile, token, { mode: 0o600 });

    operator = await startDnsOperator(systemNs, {
      env: { AWS_ENDPOINT_URL: moto.url, AWS_EC2_METADATA_DISABLED: 'true', AWS_ROLE_ARN: roleArn, AWS_WEB_IDENTITY_TOKEN_FILE: tokenFile, AWS_REGION: region },
    });
    await createIssuer(kube, {
      namespace: ns, name: 'irsa', solvers: [{ dns01: { route53: { region, role: roleArn, auth: { kubernetes: { serviceAccountRef: { name: 'dns01' } } } } } }],
    });
    await createIssuer(kube, {
      namespace: ns, name: 'irsa-no-sa', solvers: [{ dns01: { route53: { region, role: roleArn, auth: { kubernetes: { serviceAccountRef: { name: 'missing' } } } } } }],
    });
    await createIssuer(kube, { namespace: ns, name: 'ambient', solvers: [{ dns01: { route53: { region } } }] });
    await createIssuer(kube, { namespace: systemNs, name: `ambient-${systemNs}`, cluster: true, solvers: [{ dns01: { route53: { region, hostedZoneID: zoneId } } }] });
  });

  afterAll(async () => {
    await operator?.stop();
    await mirror?.stop();
    await moto?.stop();
  });

  const assumedRoles = async () => JSON.stringify(await (await fetch(`${moto.url}/moto-api/data.json`)).json()).match(/assumed-role\/certkeeper-dns01/g)?.length ?? 0;

  it('exchanges a ServiceAccount token for the role (auth.kubernetes) and issues', async () => {
    const before = await assumedRoles();
    await issueWildcardAndPlain(kube, {
      namespace: ns, name: 'irsa', base: `r53id-${unique()}.${env().dns.zone}`, issuerRef: { name: 'irsa' },
      recordsLeft: () => txtRecordsAt(route53, zoneId),
    });
    expect(await assumedRoles()).toBeGreaterThan(before);
  });

  it('uses the operator\'s web identity token file for a ClusterIssuer (the SDK default chain, as IRSA sets it up)', async () => {
    const before = await assumedRoles();
    await issueWildcardAndPlain(kube, {
      namespace: ns, name: 'ambient', base: `r53amb-${unique()}.${env().dns.zone}`, issuerRef: { name: `ambient-${systemNs}`, kind: 'ClusterIssuer' },
      recordsLeft: () => txtRecordsAt(route53, zoneId),
    });
    expect(await assumedRoles()).toBeGreaterThan(before);
  });

  it('refuses the ambient credentials to a namespaced Issuer, and a missing ServiceAccount, without an order', async () => {
    await credentialsFailureWastesNoOrder(kube, {
      namespace: ns, name: 'ambient-denied', base: `r53d-${unique()}.${env().dns.zone}`, issuerRef: { name: 'ambient' },
      expected: /^route53: no credentials given, and an Issuer in namespace \S+ may not use the operator's ambient credentials/,
    });
    await credentialsFailureWastesNoOrder(kube, {
      namespace: ns, name: 'no-sa', base: `r53s-${unique()}.${env().dns.zone}`, issuerRef: { name: 'irsa-no-sa' },
      expected: /^route53: requesting a token for ServiceAccount \S+\/missing: .*\(Unauthorized/,
    });
  });

  it('keeps the tokens out of logs, events and status', async () => {
    await expectNoSecretsAnywhere(kube, [ns, systemNs], [token, token.split('.')[2]!]);
  });
});
