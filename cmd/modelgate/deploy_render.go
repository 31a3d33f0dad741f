package main

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/spf13/cobra"

	"github.com/modelgate/modelgate/internal/api"
	"github.com/modelgate/modelgate/tools/kserve"
)

func init() { register(newDeployCmd) }

// newDeployCmd groups what modelgate hands to other deployers; render
// --kserve makes what tools/kserve renders reachable for a registry
// version.
func newDeployCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "deploy",
		Short: "Deployment manifests for registry versions (render --kserve)",
	}
	cmd.AddCommand(deployRender())
	return cmd
}

type renderFlags struct {
	server, token   string
	kserveOn        bool
	canary          int
	storage, ns     string
	format, runtime string
	cpu, memory     string
	minReplicas     int
	maxReplicas     int
}

func deployRender() *cobra.Command {
	f := &renderFlags{}
	c := &cobra.Command{
		Use:   "render --kserve MODEL VERSION --storage-uri URI [--canary-percent N]",
		Short: "Print the KServe InferenceService (and canary) manifests for a registry version",
		Long: "Reads the version from the registry (GET /v1/models/{name}/versions/{version}) and prints\n" +
			"a serving.kserve.io/v1beta1 InferenceService. --storage-uri is where KServe fetches the\n" +
			"artifact; {model}, {version} and {digest} (the hex of the version's sha256) are replaced.\n" +
			"With --canary-percent N (1..99): the canary step, the promotion and the rollback manifest,\n" +
			"as one YAML stream. Exit 0 printed, 1 server unreachable, 2 bad usage or unknown version,\n" +
			"3 forbidden.",
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !f.kserveOn {
				return usageErr(errors.New("--kserve: required (the only renderer so far)"))
			}
			if err := validPathName("model", args[0]); err != nil {
				return err
			}
			if err := validPathName("version", args[1]); err != nil {
				return err
			}
			if f.storage == "" {
				return usageErr(errors.New("--storage-uri: required (e.g. s3://models/{model}/{version}/model.json)"))
			}
			if f.canary < 0 || f.canary > 99 {
				return usageErr(fmt.Errorf("--canary-percent %d: want 1..99 (0 or unset renders the full rollout)", f.canary))
			}
			cl, err := serverClient(f.server, f.token)
			if err != nil {
				return err
			}
			var v api.VersionView
			if _, err := cl.Do(cmd.Context(), "GET", "/v1/models/"+url.PathEscape(args[0])+"/versions/"+url.PathEscape(args[1]), nil, &v); err != nil {
				return serverErr(err)
			}
			uri := strings.NewReplacer("{model}", v.Model, "{version}", v.Version, "{digest}", strings.TrimPrefix(v.Digest, "sha256:")).Replace(f.storage)
			p := kserve.Params{Name: v.Model, Namespace: f.ns, StorageURI: uri, Format: f.format, Runtime: f.runtime,
				Version: v.Version, RunID: v.RunID, CPU: f.cpu, Memory: f.memory, MaxReplicas: f.maxReplicas}
			if cmd.Flags().Changed("min-replicas") {
				p.MinReplicas = &f.minReplicas
			}
			var out []byte
			if f.canary == 0 {
				out, err = kserve.Render(p, 100)
			} else {
				var steps []kserve.Step
				steps, err = kserve.RenderRollout(p, []int{f.canary})
				out = kserve.Join(steps)
			}
			if err != nil {
				return usageErr(err)
			}
			_, err = cmd.OutOrStdout().Write(out)
			return err
		},
	}
	c.Flags().StringVar(&f.server, "server", "", "modelgate server URL (default $MODELGATE_SERVER, then http://127.0.0.1:8080)")
	c.Flags().StringVar(&f.token, "token", "", "API token (default $MODELGATE_TOKEN)")
	c.Flags().BoolVar(&f.kserveOn, "kserve", false, "render KServe InferenceService manifests")
	c.Flags().IntVar(&f.canary, "canary-percent", 0, "traffic for the new revision in the canary step (1..99); also prints the promotion and rollback manifests")
	c.Flags().StringVar(&f.storage, "storage-uri", "", "where KServe fetches the artifact; {model}, {version}, {digest} are replaced")
	c.Flags().StringVar(&f.ns, "namespace", "", "Kubernetes namespace (default \"default\")")
	c.Flags().StringVar(&f.format, "format", "", "modelFormat.name (default xgboost)")
	c.Flags().StringVar(&f.runtime, "runtime", "", "ServingRuntime name")
	c.Flags().StringVar(&f.cpu, "cpu", "", "CPU request and limit, e.g. 1")
	c.Flags().StringVar(&f.memory, "memory", "", "memory request and limit, e.g. 2Gi")
	c.Flags().IntVar(&f.minReplicas, "min-replicas", 0, "predictor minReplicas")
	c.Flags().IntVar(&f.maxReplicas, "max-replicas", 0, "predictor maxReplicas")
	return c
}
