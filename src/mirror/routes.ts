// Maps a raw request target to one of the mirror's routes, or to the reason it is refused, without touching disk.
import { isIstioVersion } from './release-name.js';

export type Route =
  | { route: 'healthz' }
  | { route: 'metrics' }
  | { route: 'index' }
  | { route: 'release'; version: string; file: string }
  | { route: 'checksum'; version: string; file: string }
  | { route: 'istioctl'; version: string; platform: string };

export type Resolution = { ok: true; value: Route } | { ok: false; status: 400 | 404; reason: string };

const refuse = (status: 400 | 404, reason: string): Resolution => ({ ok: false, status, reason });

// Characters that never appear in our URLs and that, once decoded, could steer a path or a log line.
function hasForbiddenCharacter(segment: string): boolean {
  for (const char of segment) {
    const code = char.codePointAt(0)!;
    if (code < 0x20 || code === 0x7f || char === '/' || char === '\\' || char === ':') return true;
  }
  return false;
}

/**
 * Splits and decodes the path of a request target. Only origin-form targets (`/a/b`) are accepted; each
 * segment is decoded exactly once, and `.`/`..`, empty segments and encoded separators are refused.
 */
export function decodeSegments(
  target: string,
): { ok: true; segments: string[] } | { ok: false; reason: string } {
  if (!target.startsWith('/')) return { ok: false, reason: 'not an origin-form request target' };
  const pathPart = target.split('?', 1)[0]!.split('#', 1)[0]!;
  if (pathPart === '/') return { ok: true, segments: [] };
  const rawSegments = pathPart.slice(1).split('/');
  const segments: string[] = [];
  for (const raw of rawSegments) {
    if (raw === '') return { ok: false, reason: 'empty path segment' };
    let decoded: string;
    try {
      decoded = decodeURIComponent(raw);
    } catch {
      return { ok: false, reason: 'malformed percent-encoding' };
    }
    if (decoded === '.' || decoded === '..') return { ok: false, reason: 'dot segment' };
    if (hasForbiddenCharacter(decoded)) return { ok: false, reason: 'forbidden character in path segment' };
    segments.push(decoded);
  }
  return { ok: true, segments };
}

/** Resolves a request target to a route; 400 for hostile or malformed paths, 404 for paths we do not serve. */
export function resolveRoute(target: string): Resolution {
  const decoded = decodeSegments(target);
  if (!decoded.ok) return refuse(400, decoded.reason);
  const s = decoded.segments;
  const path = s.join('/');
  if (path === 'healthz') return { ok: true, value: { route: 'healthz' } };
  if (path === 'metrics') return { ok: true, value: { route: 'metrics' } };
  if (path === 'releases/index.json') return { ok: true, value: { route: 'index' } };
  if (s.length === 6 && s[0] === 'istio' && s[1] === 'istio' && s[2] === 'releases' && s[3] === 'download') {
    const version = s[4]!;
    const file = s[5]!;
    if (!isIstioVersion(version)) return refuse(404, 'unknown version');
    if (file.endsWith('.sha256'))
      return { ok: true, value: { route: 'checksum', version, file: file.slice(0, -7) } };
    return { ok: true, value: { route: 'release', version, file } };
  }
  if (s.length === 3 && s[0] === 'istioctl') {
    if (!isIstioVersion(s[1]!)) return refuse(404, 'unknown version');
    return { ok: true, value: { route: 'istioctl', version: s[1]!, platform: s[2]! } };
  }
  return refuse(404, 'no such route');
}
