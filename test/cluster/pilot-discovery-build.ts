// How the rig builds istiod (pilot-discovery) from the module proxy here: its agentgateway support imports
// github.com/agentgateway/agentgateway/api, which the proxy does not serve, so that one package is swapped for a
// stand-in (in a local copy of istio.io/istio) while the experimental feature it serves stays off, as by default.
import { chmodSync, cpSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** The package of istio.io/istio that imports the unserved module, and the module itself. */
const AGENTGATEWAY_PACKAGE = 'pilot/pkg/config/kube/agentgateway';
export const AGENTGATEWAY_API_MODULE = 'github.com/agentgateway/agentgateway/api';

/**
 * The stand-in package: the three names istiod's bootstrap uses. NewAgwController is only called with
 * PILOT_ENABLE_AGENTGATEWAY=true (an experimental flag, off by default and never set by istioctl's manifests), so
 * the rig's istiod fails loudly if anything turns it on instead of pretending to serve agentgateway.
 */
const STAND_IN = `// Package agentgateway is the rig's stand-in (test/cluster/pilot-discovery-build.ts): agentgateway's API
// module cannot be fetched here, so istiod is built without agentgateway support.
package agentgateway

import (
	"k8s.io/apimachinery/pkg/runtime/schema"

	"istio.io/istio/pilot/pkg/model"
	"istio.io/istio/pilot/pkg/serviceregistry/kube/controller"
	"istio.io/istio/pilot/pkg/status"
	"istio.io/istio/pilot/pkg/xds"
	"istio.io/istio/pkg/kube"
)

type Controller struct {
	model.AgentgatewayController
	Registrations []xds.Registration
}

func NewAgwController(
	kc kube.Client,
	waitForCRD func(class schema.GroupVersionResource, stop <-chan struct{}) bool,
	options controller.Options,
) *Controller {
	panic("this istiod was built by the rancher-istio test rig without agentgateway support")
}

func (c *Controller) SetStatusWrite(enabled bool, statusManager *status.Manager) {}
`;

/**
 * Copies istio.io/istio from the module cache (`istioDir`) into `workDir/istio` with the stand-in in place of the
 * real package, and returns that directory for a `replace istio.io/istio => ./istio` (the module cache itself is
 * read-only, and Go refuses build overlays of files in it).
 */
export function istioWithStandIn(workDir: string, istioDir: string): string {
  const copy = join(workDir, 'istio');
  cpSync(istioDir, copy, { recursive: true });
  const packageDir = join(copy, AGENTGATEWAY_PACKAGE);
  chmodSync(packageDir, 0o755);
  for (const file of readdirSync(packageDir).filter((f) => f.endsWith('.go'))) rmSync(join(packageDir, file));
  writeFileSync(join(packageDir, 'stand_in.go'), STAND_IN);
  return copy;
}

/** go.mod and one empty file of the local module that stands in for the unserved one. */
export const LOCAL_API_MODULE_FILES: Record<string, string> = {
  'go.mod': `module ${AGENTGATEWAY_API_MODULE}\n\ngo 1.24\n`,
  'api.go': '// Package api is empty: only its import path must resolve.\npackage api\n',
};
