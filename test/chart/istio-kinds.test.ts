// The aggregated istio-admin/-edit/-view roles cover every kind whose CRD the rig's istioctl versions install.
import { execa } from 'execa';
import { loadAll } from 'js-yaml';
import { ISTIO_VERSIONS, toolPaths } from '../cluster/tools.js';
import { HELMS, renderChart, type KubeObject } from './render.js';

interface Crd extends KubeObject {
  spec: { group: string; names: { plural: string } };
}
interface Rule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
}

test.each([...ISTIO_VERSIONS])(
  'istio-admin, -edit and -view cover every CRD of Istio %s',
  async (version) => {
    const r = await execa(toolPaths().istioctl[version], ['manifest', 'generate'], {
      env: { HOME: '/nonexistent' },
    });
    const crds = (loadAll(r.stdout) as (Crd | null)[]).filter(
      (o): o is Crd => o?.kind === 'CustomResourceDefinition',
    );
    expect(crds.length).toBeGreaterThan(10);
    const { objects } = await renderChart(HELMS[0][1], 'defaults');
    for (const role of ['istio-admin', 'istio-edit', 'istio-view']) {
      const rules = (
        objects.find((o) => o.kind === 'ClusterRole' && o.metadata.name === role) as unknown as {
          rules: Rule[];
        }
      ).rules;
      const covered = new Set(
        rules.flatMap((rule) => rule.apiGroups.flatMap((g) => rule.resources.map((res) => `${res}.${g}`))),
      );
      const missing = crds
        .map((c) => `${c.spec.names.plural}.${c.spec.group}`)
        .filter((k) => !covered.has(k));
      expect([role, missing]).toEqual([role, []]);
    }
  },
);
