// Where the lean REST client's credentials come from: the given kubeconfig, $KUBECONFIG, ~/.kube/config, then the
// pod's ServiceAccount. A kubeconfig is checked before it is used: a malformed one is an InputError naming the file
// and the key (exit 2), never a stack trace.
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { load } from 'js-yaml';
import * as z from 'zod';
import { InputError } from '../../errors.js';
import { formatPath } from '../../overlay/json.js';

export interface RestCredentials {
  server: string;
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  token?: string;
  insecure?: boolean;
}

const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

/** What a kubeconfig must look like for the fields read here to be what they claim; other keys are not looked at. */
const kubeconfigSchema = z.object({
  'current-context': z.string().optional(),
  contexts: z
    .array(
      z.object({
        name: z.string(),
        context: z.object({ cluster: z.string().optional(), user: z.string().optional() }),
      }),
    )
    .nullish(),
  clusters: z.array(z.object({ name: z.string(), cluster: z.record(z.string(), z.unknown()) })).nullish(),
  users: z.array(z.object({ name: z.string(), user: z.record(z.string(), z.unknown()).nullish() })).nullish(),
});
type KubeconfigFile = z.infer<typeof kubeconfigSchema>;

/**
 * A kubeconfig's text as the fields read here, or InputError naming the file, the key and what is wrong with it
 * (exit 2): a malformed file is the user's input, not a bug.
 */
export function parseKubeconfig(text: string, file: string): KubeconfigFile {
  let document: unknown;
  try {
    document = load(text);
  } catch (error) {
    const mark = (error as { mark?: { line?: number; column?: number } }).mark;
    const reason = (error as { reason?: string }).reason ?? String(error);
    throw new InputError([
      {
        file,
        ...(mark?.line !== undefined ? { line: mark.line + 1, col: (mark.column ?? 0) + 1 } : {}),
        path: '',
        message: `not a kubeconfig: ${reason}`,
      },
    ]);
  }
  if (document === null || typeof document !== 'object' || Array.isArray(document))
    throw new InputError([{ file, path: '', message: 'not a kubeconfig: expected a YAML mapping' }]);
  const result = kubeconfigSchema.safeParse(document);
  if (result.success) return result.data;
  throw new InputError(
    result.error.issues.map((issue) => ({
      file,
      path: formatPath(issue.path.filter((p): p is string | number => typeof p !== 'symbol')),
      message: issue.message,
    })),
  );
}

/**
 * Credentials in client-node's order: the given kubeconfig, $KUBECONFIG, ~/.kube/config, then the pod's
 * ServiceAccount. Undefined when the credentials need what only client-node does (exec, auth-provider, proxy-url).
 */
export function loadRestCredentials(
  kubeconfig: string | undefined,
  env: Readonly<Record<string, string | undefined>>,
  read = (file: string) => readFileSync(file),
  /** A context of the kubeconfig to use instead of its current-context (`status --context`). */
  context?: string,
): RestCredentials | undefined {
  const candidates = kubeconfig
    ? [kubeconfig]
    : [
        ...(env.KUBECONFIG ? env.KUBECONFIG.split(path.delimiter).filter(Boolean).slice(0, 1) : []),
        path.join(env.HOME || homedir(), '.kube', 'config'),
      ];
  for (const file of candidates) {
    let text: string;
    try {
      text = read(file).toString('utf8');
    } catch (error) {
      // A kubeconfig the user named (--kubeconfig, $KUBECONFIG) that cannot be read is their input's fault, not a
      // reason to act on another cluster; only the default ~/.kube/config may be missing.
      if (!kubeconfig && file === candidates.at(-1)) continue;
      throw unreadableKubeconfig(file, error);
    }
    return fromKubeconfig(parseKubeconfig(text, file), file, read, context);
  }
  // A context asked for by name belongs to a kubeconfig; the pod's own credentials have none to pick.
  if (context !== undefined)
    throw new InputError([
      {
        path: '--context',
        message: `no kubeconfig to find context "${context}" in (tried ${candidates.join(', ')})`,
      },
    ]);
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = env.KUBERNETES_SERVICE_PORT;
  if (!host || !port) return undefined;
  try {
    return {
      server: `https://${host.includes(':') ? `[${host}]` : host}:${port}`,
      ca: read(path.join(SERVICE_ACCOUNT_DIR, 'ca.crt')),
      token: read(path.join(SERVICE_ACCOUNT_DIR, 'token')).toString('utf8').trim(),
    };
  } catch {
    return undefined;
  }
}

function fromKubeconfig(
  config: KubeconfigFile,
  file: string,
  readFile: (file: string) => Buffer,
  askedContext: string | undefined,
): RestCredentials | undefined {
  const base = path.dirname(file);
  // A file the kubeconfig names but that cannot be read is the kubeconfig's fault: named with its key, exit 2.
  const read = (named: string, key: string): Buffer => {
    try {
      return readFile(path.resolve(base, named));
    } catch (error) {
      const reason = (error as { code?: string }).code ?? String(error);
      throw new InputError([
        { file, path: key, message: `cannot read ${path.resolve(base, named)} (${reason})` },
      ]);
    }
  };
  const contextName = askedContext ?? config['current-context'];
  const context = config.contexts?.find((c) => c.name === contextName)?.context;
  // A context asked for by name that is not there is a typo to name, not a fall back to another cluster.
  if (askedContext !== undefined && !context)
    throw new InputError([{ file, path: 'contexts', message: `no context named "${askedContext}"` }]);
  const clusterIndex = config.clusters?.findIndex((c) => c.name === context?.cluster) ?? -1;
  const cluster = config.clusters?.[clusterIndex]?.cluster;
  const userIndex = config.users?.findIndex((u) => u.name === context?.user) ?? -1;
  const user = config.users?.[userIndex]?.user ?? {};
  if (!cluster || typeof cluster.server !== 'string') return undefined;
  if ('exec' in user || 'auth-provider' in user || 'username' in user || 'proxy-url' in cluster)
    return undefined;
  const clusterKey = `clusters[${clusterIndex}].cluster`;
  const userKey = `users[${userIndex}].user`;
  const bytes = (data: unknown, named: unknown, key: string): Buffer | undefined => {
    if (typeof data === 'string') return Buffer.from(data, 'base64');
    if (typeof named === 'string') return read(named, key);
    return undefined;
  };
  const tokenFile =
    typeof user.tokenFile === 'string'
      ? read(user.tokenFile, `${userKey}.tokenFile`).toString('utf8').trim()
      : undefined;
  return {
    server: cluster.server.replace(/\/+$/, ''),
    ca: bytes(
      cluster['certificate-authority-data'],
      cluster['certificate-authority'],
      `${clusterKey}.certificate-authority`,
    ),
    cert: bytes(user['client-certificate-data'], user['client-certificate'], `${userKey}.client-certificate`),
    key: bytes(user['client-key-data'], user['client-key'], `${userKey}.client-key`),
    token: typeof user.token === 'string' ? user.token : tokenFile,
    insecure: cluster['insecure-skip-tls-verify'] === true,
  };
}

/** The kubeconfig a command reads when none is given: the first file of $KUBECONFIG, else ~/.kube/config. */
export function defaultKubeconfigFile(env: Readonly<Record<string, string | undefined>>): string {
  const first = env.KUBECONFIG?.split(path.delimiter).find(Boolean);
  return first ?? path.join(env.HOME || homedir(), '.kube', 'config');
}

/** A kubeconfig that cannot be read: exit 2, naming the file and why. */
function unreadableKubeconfig(file: string, error: unknown): InputError {
  const reason = (error as { code?: string }).code ?? String(error);
  return new InputError([{ file, path: '', message: `cannot read the kubeconfig (${reason})` }]);
}

/** A kubeconfig's contexts, in the file's order, and its current-context. */
export interface KubeconfigContexts {
  file: string;
  current: string | undefined;
  contexts: string[];
}

/** Reads the contexts of a kubeconfig (`status --all-contexts`); an unreadable or malformed file is exit 2. */
export function readKubeconfigContexts(
  file: string,
  read = (name: string) => readFileSync(name),
): KubeconfigContexts {
  let text: string;
  try {
    text = read(file).toString('utf8');
  } catch (error) {
    throw unreadableKubeconfig(file, error);
  }
  const config = parseKubeconfig(text, file);
  return {
    file,
    current: config['current-context'] || undefined,
    contexts: (config.contexts ?? []).map((c) => c.name),
  };
}
