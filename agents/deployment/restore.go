package deployment

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
)

// RestoreLocal restarts, for every gateway route whose stable version
// is a local artifact of the registry, the model server that died with
// the previous process, and points the route at it. The server calls it
// after loading the routes and before the gateway listens: otherwise a
// route keeps the port of a child that no longer exists, and production
// answers 502 until some later rollout. Each artifact is re-verified
// against its registered digest before it is served (verifiedCopy).
// In-flight rollouts restart their own servers on their next tick.
func (a *Agent) RestoreLocal(ctx context.Context) error {
	if a.opts.Store == nil || a.opts.Gateway == nil {
		return errors.New("deployment agent: Options.Store and Options.Gateway are required to restore routes")
	}
	all, err := a.opts.Store.RouteList(ctx)
	if err != nil {
		return fmt.Errorf("restore local targets: %w", err)
	}
	var errs []error
	for _, model := range slices.Sorted(maps.Keys(all)) {
		t, ok := a.opts.Gateway.Routes(model)
		if !ok {
			continue
		}
		v, err := a.opts.Store.ModelVersionGet(ctx, model, t.Stable.Version)
		if err != nil || v.Endpoint != "" || v.ArtifactPath == "" {
			continue // not ours to serve: an upstream, or a version the registry does not hold
		}
		url, err := a.ensureLocal(ctx, model, Backend{Version: v.Version, Digest: v.Digest, Artifact: v.ArtifactPath, Local: true, Name: model}, false)
		if err != nil {
			errs = append(errs, fmt.Errorf("restore %s %s: %w", model, v.Version, err))
			continue
		}
		if url == t.Stable.URL {
			continue
		}
		t.Stable.URL = url
		if err := a.opts.Gateway.SetRoutes(ctx, model, t); err != nil {
			errs = append(errs, fmt.Errorf("restore %s %s: route: %w", model, v.Version, err))
			continue
		}
		a.log.Info("restored local model server", "model", model, "version", v.Version, "url", url)
	}
	return errors.Join(errs...)
}
