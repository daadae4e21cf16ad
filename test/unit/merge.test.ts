// Merge semantics, by example and by property: idempotence, identity, keyed lists, deletions.
import fc from 'fast-check';
import type { Json, JsonObject } from '../../src/overlay/json.js';
import { hasDeletions, istioOperatorListKeys, mergeDocuments, noListKeys } from '../../src/overlay/merge.js';

const merge = (base: Json | undefined, overlay: Json | undefined) =>
  mergeDocuments(base, overlay, istioOperatorListKeys);

describe('mergeDocuments', () => {
  test('maps merge deeply, the overlay winning on scalars', () => {
    expect(merge({ a: { b: 1, c: 2 }, d: 1 }, { a: { b: 3 } })).toEqual({ a: { b: 3, c: 2 }, d: 1 });
  });

  test('null deletes a key, and nulls in new data vanish', () => {
    expect(merge({ a: 1, b: 2 }, { a: null, c: { d: null, e: 1 } })).toEqual({ b: 2, c: { e: 1 } });
  });

  test('gateways merge by name: an extra gateway is added, not a replacement', () => {
    const base = {
      spec: { components: { ingressGateways: [{ name: 'istio-ingressgateway', enabled: true }] } },
    };
    const overlay = { spec: { components: { ingressGateways: [{ name: 'extra', enabled: true }] } } };
    expect(merge(base, overlay)).toEqual({
      spec: {
        components: {
          ingressGateways: [
            { name: 'istio-ingressgateway', enabled: true },
            { name: 'extra', enabled: true },
          ],
        },
      },
    });
  });

  test('an element with $patch: delete removes its namesake', () => {
    const base = { spec: { components: { egressGateways: [{ name: 'a' }, { name: 'b' }] } } };
    const overlay = { spec: { components: { egressGateways: [{ name: 'a', $patch: 'delete' }] } } };
    expect(merge(base, overlay)).toEqual({ spec: { components: { egressGateways: [{ name: 'b' }] } } });
  });

  test('ports merge by name, env by name, k8s overlays by kind and name', () => {
    const k8s = (value: JsonObject) => ({ spec: { components: { pilot: { k8s: value } } } });
    expect(
      merge(
        k8s({
          env: [{ name: 'A', value: '1' }],
          service: { ports: [{ name: 'http', port: 80 }] },
          overlays: [{ kind: 'Deployment', name: 'x', patches: [] }],
        }),
        k8s({
          env: [
            { name: 'A', value: '2' },
            { name: 'B', value: '3' },
          ],
          service: { ports: [{ name: 'http', nodePort: 30000 }] },
          overlays: [{ kind: 'Service', name: 'x' }],
        }),
      ),
    ).toEqual(
      k8s({
        env: [
          { name: 'A', value: '2' },
          { name: 'B', value: '3' },
        ],
        service: { ports: [{ name: 'http', port: 80, nodePort: 30000 }] },
        overlays: [
          { kind: 'Deployment', name: 'x', patches: [] },
          { kind: 'Service', name: 'x' },
        ],
      }),
    );
  });

  test('other lists are replaced', () => {
    expect(
      merge(
        { spec: { components: { pilot: { k8s: { tolerations: [{ key: 'a' }] } } } } },
        { spec: { components: { pilot: { k8s: { tolerations: [{ key: 'b' }] } } } } },
      ),
    ).toEqual({
      spec: { components: { pilot: { k8s: { tolerations: [{ key: 'b' }] } } } },
    });
  });

  test('values files (helm rule) replace every list', () => {
    expect(
      mergeDocuments(
        { spec: { components: { ingressGateways: [{ name: 'a' }] } } },
        { spec: { components: { ingressGateways: [{ name: 'b' }] } } },
        noListKeys,
      ),
    ).toEqual({
      spec: { components: { ingressGateways: [{ name: 'b' }] } },
    });
  });

  test('inputs are not mutated', () => {
    const base = { a: { b: [1] } };
    const overlay = { a: { c: 2 } };
    merge(base, overlay);
    expect(base).toEqual({ a: { b: [1] } });
    expect(overlay).toEqual({ a: { c: 2 } });
  });
});

// Documents shaped like IstioOperators, so the keyed lists are exercised, with no nulls (pure additions).
const scalar = fc.oneof(fc.integer(), fc.boolean(), fc.string({ maxLength: 5 }));
const leafMap = fc.dictionary(fc.constantFrom('a', 'b', 'c', 'enabled', 'value'), scalar, { maxKeys: 3 });
const gateway = fc.record({
  name: fc.constantFrom('g1', 'g2', 'g3'),
  enabled: fc.boolean(),
  k8s: fc.record({
    env: fc.uniqueArray(fc.record({ name: fc.constantFrom('A', 'B'), value: fc.string({ maxLength: 3 }) }), {
      selector: (e) => e.name,
      maxLength: 2,
    }),
  }),
});
const istioOperatorLike = fc.record(
  {
    spec: fc.record(
      {
        profile: fc.constantFrom('default', 'minimal'),
        meshConfig: leafMap,
        components: fc.record(
          { ingressGateways: fc.uniqueArray(gateway, { selector: (g) => g.name, maxLength: 3 }) },
          { requiredKeys: [] },
        ),
        values: fc.dictionary(fc.constantFrom('global', 'pilot'), leafMap, { maxKeys: 2 }),
      },
      { requiredKeys: [] },
    ),
  },
  { requiredKeys: [] },
) as fc.Arbitrary<Json>;

describe('merge properties', () => {
  test('merging an overlay twice equals merging it once', () => {
    fc.assert(
      fc.property(istioOperatorLike, istioOperatorLike, (base, overlay) => {
        const once = merge(base, overlay);
        expect(merge(once, overlay)).toEqual(once);
      }),
    );
  });

  test('an empty overlay changes nothing', () => {
    fc.assert(
      fc.property(istioOperatorLike, (base) => {
        expect(merge(base, {})).toEqual(base);
      }),
    );
  });

  test('merging a document onto itself changes nothing', () => {
    fc.assert(
      fc.property(istioOperatorLike, (doc) => {
        expect(merge(doc, doc)).toEqual(doc);
      }),
    );
  });

  test('every gateway of the base and of the overlay is in the result, once', () => {
    fc.assert(
      fc.property(istioOperatorLike, istioOperatorLike, (base, overlay) => {
        const names = (doc: Json | undefined) =>
          (
            ((
              ((doc as JsonObject | undefined)?.spec as JsonObject | undefined)?.components as
                JsonObject | undefined
            )?.ingressGateways as JsonObject[] | undefined) ?? []
          ).map((g) => g.name);
        const result = names(merge(base, overlay));
        expect(new Set(result).size).toBe(result.length);
        const baseNames = names(base);
        const expected = new Set([...baseNames, ...names(overlay)]);
        // Lists in a base without components are replaced wholesale; otherwise names accumulate.
        if (baseNames.length > 0 || names(overlay).length === 0) expect(new Set(result)).toEqual(expected);
      }),
    );
  });
});

describe('new list elements', () => {
  test('are shared when they hold nothing to drop, and copied without their nulls and markers otherwise', () => {
    const clean = { name: 'extra', k8s: { env: [{ name: 'A', value: '1' }] } };
    const dirty = { name: 'other', k8s: { env: [{ name: 'B', value: null }] }, label: { $patch: 'x' } };
    const overlay = { spec: { components: { ingressGateways: [clean, dirty] } } };
    const merged = merge({ spec: { components: { ingressGateways: [] } } }, overlay) as JsonObject;
    const gateways = ((merged.spec as JsonObject).components as JsonObject).ingressGateways as Json[];
    expect(gateways[0]).toBe(clean);
    expect(gateways[1]).toEqual({ name: 'other', k8s: { env: [{ name: 'B' }] }, label: {} });
    expect(dirty.k8s.env[0]).toEqual({ name: 'B', value: null });
  });

  test.each([
    [{ a: [1, { b: 'x' }] }, false],
    [{ a: [1, { b: null }] }, true],
    [[{ $patch: 'delete', name: 'x' }], true],
    ['text', false],
    [null, true],
  ])('hasDeletions(%j) is %s', (value, expected) => {
    expect(hasDeletions(value as Json)).toBe(expected);
  });
});
