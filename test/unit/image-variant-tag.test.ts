// The tag of a product image variant that bundles fewer istioctls: what the rig reads back from it in process mode.
import { variantTag, variantVersions } from '../cluster/image.js';

test('a variant tag names the versions it keeps and the product image it came from', () => {
  const tag = variantTag('0.1.0', ['1.29.6', '1.31.0'], '43724e86c92d0123456789');
  expect(tag).toBe('0.1.0-only-1.29.6_1.31.0-43724e86c92d');
  expect(variantVersions(tag)).toEqual(['1.29.6', '1.31.0']);
});

test('the product tag, istiod tags and versions the rig has no build of are no variant', () => {
  expect(variantVersions('0.1.0')).toBeUndefined();
  expect(variantVersions('1.31.0-distroless')).toBeUndefined();
  expect(variantVersions(variantTag('0.1.0', ['1.31.0', '1.99.0'], 'abc'))).toBeUndefined();
});
