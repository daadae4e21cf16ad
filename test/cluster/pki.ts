// Makes the rig's throwaway PKI: a CA, the apiserver's serving certificate, the admin client certificate and the
// ServiceAccount signing key, all under one cluster directory.
import { generateKeyPairSync } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';

export interface Pki {
  caCert: string;
  caKey: string;
  servingCert: string;
  servingKey: string;
  adminCert: string;
  adminKey: string;
  saPublicKey: string;
  saPrivateKey: string;
}

/** The names and addresses under which pods and tools reach the apiserver. */
const APISERVER_SANS = [
  'IP:127.0.0.1',
  // NODE_ADDRESS (pod-network.ts): where pods in a network namespace of their own (istiod) reach the apiserver.
  'IP:169.254.1.1',
  'IP:10.96.0.1',
  'DNS:localhost',
  'DNS:kubernetes',
  'DNS:kubernetes.default',
  'DNS:kubernetes.default.svc',
  'DNS:kubernetes.default.svc.cluster.local',
];

interface CertRequest {
  name: string;
  subject: Record<string, string>;
  extensions: string[];
  signer?: { cert: string; key: string };
}

/** One self-contained openssl config per certificate, so distribution defaults never add extensions. */
async function makeCert(dir: string, req: CertRequest): Promise<{ cert: string; key: string }> {
  const cert = join(dir, `${req.name}.crt`);
  const key = join(dir, `${req.name}.key`);
  const config = join(dir, `${req.name}.cnf`);
  const subject = Object.entries(req.subject).map(([k, v]) => `${k} = ${v}`);
  writeFileSync(
    config,
    [
      '[req]',
      'distinguished_name = dn',
      'prompt = no',
      'x509_extensions = ext',
      '[dn]',
      ...subject,
      '[ext]',
      ...req.extensions,
      '',
    ].join('\n'),
  );
  const signer = req.signer ? ['-CA', req.signer.cert, '-CAkey', req.signer.key] : [];
  // Two days: long enough for any test run, short enough that a leaked rig key is worthless.
  await execa('openssl', [
    'req',
    '-x509',
    '-new',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-config',
    config,
    '-keyout',
    key,
    '-out',
    cert,
    '-days',
    '2',
    ...signer,
  ]);
  return { cert, key };
}

export async function makePki(dir: string): Promise<Pki> {
  const ca = await makeCert(dir, {
    name: 'ca',
    subject: { CN: 'rancher-istio-rig-ca' },
    extensions: [
      'basicConstraints = critical,CA:TRUE',
      'keyUsage = critical,keyCertSign,cRLSign,digitalSignature',
      'subjectKeyIdentifier = hash',
    ],
  });
  const leaf = (usage: string, sans?: string[]): string[] => [
    'basicConstraints = critical,CA:FALSE',
    'keyUsage = critical,digitalSignature,keyEncipherment',
    `extendedKeyUsage = ${usage}`,
    'authorityKeyIdentifier = keyid',
    ...(sans ? [`subjectAltName = ${sans.join(',')}`] : []),
  ];
  const serving = await makeCert(dir, {
    name: 'apiserver',
    subject: { CN: 'kube-apiserver' },
    extensions: leaf('serverAuth', APISERVER_SANS),
    signer: ca,
  });
  const admin = await makeCert(dir, {
    name: 'admin',
    subject: { O: 'system:masters', CN: 'rig-admin' },
    extensions: leaf('clientAuth'),
    signer: ca,
  });
  const sa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const saPublicKey = join(dir, 'sa.pub');
  const saPrivateKey = join(dir, 'sa.key');
  writeFileSync(saPublicKey, sa.publicKey.export({ type: 'spki', format: 'pem' }));
  writeFileSync(saPrivateKey, sa.privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  return {
    caCert: ca.cert,
    caKey: ca.key,
    servingCert: serving.cert,
    servingKey: serving.key,
    adminCert: admin.cert,
    adminKey: admin.key,
    saPublicKey,
    saPrivateKey,
  };
}
