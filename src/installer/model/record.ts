// The installer's record of what it applied, kept in the ConfigMap `istio-installer-state`: encoding and decoding. Pure.
import { createHash } from 'node:crypto';
import { gunzipSync, gzipSync } from 'node:zlib';
import * as z from 'zod';
import { sortKeysDeep, type Json } from '../../overlay/json.js';

export const RECORD_CONFIGMAP = 'istio-installer-state';
export const HISTORY_LENGTH = 10;

/**
 * `in-progress` is written before a run acts and replaced by its outcome after; one still there when the next run
 * holds the lock belongs to a run that was killed, and becomes `interrupted`. `refused`: a precheck stopped the run
 * before istioctl applied anything.
 */
const OUTCOMES = [
  'in-progress',
  'succeeded',
  'failed',
  'refused',
  'rolled-back',
  'interrupted',
  'uninstalled',
] as const;

const entrySchema = z.object({
  action: z.string(),
  outcome: z.enum(OUTCOMES),
  specSha256: z.string(),
  istioVersion: z.string(),
  revision: z.string(),
  chartVersion: z.string(),
  installerVersion: z.string(),
  time: z.string(),
  message: z.string().optional(),
  /** The lock holder of the run (pod or host/pid), to tell whose attempt an `in-progress` entry is. */
  holder: z.string().optional(),
  /** Findings that did not stop the run (istioctl analyze about users' own configuration). */
  warnings: z.array(z.string()).optional(),
  /** The last lines istioctl printed before it failed. */
  output: z.array(z.string()).optional(),
  /** A hop of a stepped upgrade: the versions still ahead of it on the path (none on the last hop). */
  pathAhead: z.array(z.string()).optional(),
});
export type RecordEntry = z.infer<typeof entrySchema>;

const recordSchema = z.object({
  current: entrySchema,
  lastGood: entrySchema.optional(),
  history: z.array(entrySchema),
});

export interface InstallRecord {
  /** The latest run's outcome. */
  current: RecordEntry;
  /** The latest successful install, whose spec a rollback re-applies. */
  lastGood: RecordEntry | undefined;
  /** Newest first, at most HISTORY_LENGTH entries. */
  history: RecordEntry[];
  /** The IstioOperator of `current`, as YAML. */
  spec: string | undefined;
  /** The IstioOperator of `lastGood`, as YAML. */
  lastGoodSpec: string | undefined;
}

/** sha256 of the spec's canonical JSON: key order and formatting do not change it. */
export function specHash(istioOperator: Json): string {
  return createHash('sha256')
    .update(JSON.stringify(sortKeysDeep(istioOperator)))
    .digest('hex');
}

/** A run that never reported its outcome: still `in-progress`, or killed (`interrupted`). */
export function neverReported(outcome: RecordEntry['outcome']): boolean {
  return outcome === 'in-progress' || outcome === 'interrupted';
}

/** A run that ended as it should (installed, or uninstalled); anything else may have left work half done. */
export function endedCleanly(outcome: RecordEntry['outcome']): boolean {
  return outcome === 'succeeded' || outcome === 'uninstalled';
}

/** Whether this install was taken over: an `adopt` entry is on record. */
export function adoptedOnRecord(record: InstallRecord | undefined): boolean {
  return (record?.history ?? []).some((entry) => entry.action === 'adopt');
}

/**
 * The record after one more entry; a success also becomes the last good one, which a rollback returns to. An
 * outcome replaces its own run's `in-progress` attempt rather than adding a second line to the history.
 */
export function nextRecord(
  previous: InstallRecord | undefined,
  entry: RecordEntry,
  spec: string | undefined,
): InstallRecord {
  const good = entry.outcome === 'succeeded';
  const attempt = previous?.current;
  const ownAttempt =
    attempt?.outcome === 'in-progress' && attempt.holder !== undefined && attempt.holder === entry.holder;
  const older = (previous?.history ?? []).slice(ownAttempt ? 1 : 0);
  return {
    current: entry,
    lastGood: good ? entry : previous?.lastGood,
    history: [entry, ...older].slice(0, HISTORY_LENGTH),
    spec,
    lastGoodSpec: good ? spec : previous?.lastGoodSpec,
  };
}

/** A record whose latest run was left `in-progress` by another holder: that run was killed. */
export function markInterrupted(
  record: InstallRecord | undefined,
  holder: string,
): InstallRecord | undefined {
  const current = record?.current;
  if (!record || !current || current.outcome !== 'in-progress' || current.holder === holder) return record;
  const interrupted: RecordEntry = { ...current, outcome: 'interrupted' };
  return { ...record, current: interrupted, history: [interrupted, ...record.history.slice(1)] };
}

export interface RecordConfigMapData {
  data: Record<string, string>;
  binaryData: Record<string, string>;
}

/** Specs are gzipped because a ConfigMap holds at most 1 MiB and overlays can be large. */
export function encodeRecord(record: InstallRecord): RecordConfigMapData {
  const binaryData: Record<string, string> = {};
  if (record.spec !== undefined) binaryData['spec.yaml.gz'] = gzipSync(record.spec).toString('base64');
  if (record.lastGoodSpec !== undefined)
    binaryData['last-good-spec.yaml.gz'] = gzipSync(record.lastGoodSpec).toString('base64');
  const { current, lastGood, history } = record;
  return { data: { 'record.json': JSON.stringify({ current, lastGood, history }, null, 2) }, binaryData };
}

/** Reads a record back; a damaged one is reported as undefined (the installer then acts as if there were none). */
export function decodeRecord(
  data: Record<string, string> | undefined,
  binaryData: Record<string, string> | undefined,
): InstallRecord | undefined {
  const json = data?.['record.json'];
  if (!json) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    return undefined;
  }
  const result = recordSchema.safeParse(parsed);
  if (!result.success) return undefined;
  return {
    current: result.data.current,
    lastGood: result.data.lastGood,
    history: result.data.history,
    spec: gunzipText(binaryData?.['spec.yaml.gz']),
    lastGoodSpec: gunzipText(binaryData?.['last-good-spec.yaml.gz']),
  };
}

function gunzipText(base64: string | undefined): string | undefined {
  if (!base64) return undefined;
  try {
    return gunzipSync(Buffer.from(base64, 'base64')).toString('utf8');
  } catch {
    return undefined;
  }
}
