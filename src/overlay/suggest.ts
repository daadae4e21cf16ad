// "Did you mean" suggestions for misspelled keys, by edit distance.

/** Levenshtein distance, case-insensitive, since `ingressgateways` vs `ingressGateways` is the typical slip. */
export function editDistance(a: string, b: string): number {
  const x = a.toLowerCase();
  const y = b.toLowerCase();
  let previous = Array.from({ length: y.length + 1 }, (_, i) => i);
  for (let i = 1; i <= x.length; i++) {
    const current = [i];
    for (let j = 1; j <= y.length; j++) {
      const cost = x[i - 1] === y[j - 1] ? 0 : 1;
      current[j] = Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, (previous[j - 1] ?? 0) + cost);
    }
    previous = current;
  }
  return previous[y.length] ?? 0;
}

/** The closest candidate within a distance proportional to the word's length, or one the word abbreviates (`hpa` for `hpaSpec`). */
export function closest(word: string, candidates: Iterable<string>): string | undefined {
  const list = [...candidates];
  const lower = word.toLowerCase();
  const prefixed = list.filter(
    (c) => lower.length >= 3 && (c.toLowerCase().startsWith(lower) || lower.startsWith(c.toLowerCase())),
  );
  if (prefixed.length === 1) return prefixed[0];
  // `replicas` for `replicaCount`: a long shared start says more than the edit distance.
  const shared = list.filter(
    (c) => commonPrefix(lower, c.toLowerCase()) >= Math.max(4, Math.ceil(lower.length * 0.6)),
  );
  if (shared.length === 1) return shared[0];
  const limit = Math.max(1, Math.floor(word.length / 3));
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of list) {
    const distance = editDistance(word, candidate);
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return bestDistance <= limit ? best : undefined;
}

function commonPrefix(a: string, b: string): number {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return i;
}
