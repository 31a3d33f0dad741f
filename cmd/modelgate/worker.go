package main

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/charmbracelet/log"
	"github.com/google/uuid"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/modelgate/modelgate/agents"
	"github.com/modelgate/modelgate/agents/prompt"
	"github.com/modelgate/modelgate/coordinator"
	"github.com/modelgate/modelgate/internal/app"
	"github.com/modelgate/modelgate/internal/app/worker"
)

func init() { register(newWorkerCmd) }

// agentStages maps the names --agents takes (agents' and stages' alike)
// to the stage a worker asks for.
var agentStages = map[string]string{
	"validation": coordinator.StageValidate, coordinator.StageValidate: coordinator.StageValidate,
	"testing": coordinator.StageTest, coordinator.StageTest: coordinator.StageTest,
	"security": coordinator.StageScan, coordinator.StageScan: coordinator.StageScan,
	"evaluation": coordinator.StageEvaluate, coordinator.StageEvaluate: coordinator.StageEvaluate,
}

func newWorkerCmd() *cobra.Command {
	var (
		server, tokenFile, name, dir string
		agentList                    []string
		concurrency                  int
		delay                        time.Duration
		trainRO                      []string
		po                           prompt.Options
	)
	cmd := &cobra.Command{
		Use:   "worker",
		Short: "Run stage tasks for a server (remote stages on a Redis store)",
		Long: `Take stage tasks from a modelgate server started with --remote-stages,
run the agents in this process and report the results. The worker talks
only HTTP to the server with a token of the worker role (--token-file);
it fetches each file its task names by digest and checks its SHA-256
before use. See docs/scale-out.md.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			tok, err := readToken(tokenFile)
			if err != nil {
				return usageErr(err)
			}
			c, err := serverClient(server, tok)
			if err != nil {
				return err
			}
			c.HTTP.Timeout = 2 * time.Minute // a report can be large; claims wait up to 20 s
			all := app.StageAgents(log.Default(), po)
			as := map[string]agents.Agent{}
			for _, a := range agentList {
				a = strings.TrimSpace(a)
				if a == "training" || a == coordinator.StageTrain {
					ta, err := app.WorkerTraining(ctx, log.Default().WithPrefix("train"), trainRO)
					if err != nil {
						return usageErr(err)
					}
					as[coordinator.StageTrain] = ta
					continue
				}
				st, ok := agentStages[a]
				if !ok {
					return usageErr(fmt.Errorf("--agents: %q is none of validation, training, testing, security, evaluation (deployment stays on the server)", a))
				}
				as[st] = all[st]
			}
			if dir == "" {
				if dir, err = os.MkdirTemp("", "modelgate-worker-"); err != nil {
					return err
				}
				defer os.RemoveAll(dir)
			} else if err := os.MkdirAll(dir, 0o700); err != nil {
				return usageErr(fmt.Errorf("--data-dir: %w", err))
			}
			if name == "" {
				host, _ := os.Hostname()
				name = fmt.Sprintf("%s-%d-%s", host, os.Getpid(), uuid.NewString()[:8])
			}
			w, err := worker.New(worker.Options{Client: c, Name: name, Agents: as, Dir: dir, Logger: log.Default(), Concurrency: concurrency, Delay: delay})
			if err != nil {
				return usageErr(err)
			}
			log.Info("worker started", "server", c.Base, "name", name, "stages", w.Stages())
			if err := w.Run(ctx); err != nil {
				return serverErr(err)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&server, "server", "", "server URL (default $MODELGATE_SERVER, then http://127.0.0.1:8080)")
	f.StringVar(&tokenFile, "token-file", "", "file holding a token of the worker role (default $MODELGATE_TOKEN)")
	f.StringSliceVar(&agentList, "agents", []string{"testing", "security", "evaluation"}, "agents to run: validation, training (in bwrap), testing, security, evaluation")
	f.StringArrayVar(&trainRO, "train-ro-bind", nil, "a host folder sandboxed train commands may read, e.g. a toolchain outside /usr (repeatable)")
	f.StringVar(&name, "name", "", "this worker's name among its token's workers (default host-pid-random)")
	f.StringVar(&dir, "data-dir", "", "folder for fetched blobs and task folders (default a temporary folder, removed at exit)")
	f.IntVar(&concurrency, "concurrency", 1, "tasks run at once")
	f.DurationVar(&delay, "test-stage-delay", 0, "hold every task this long before running it (fault tests)")
	_ = f.MarkHidden("test-stage-delay")
	addPromptFlags(f, &po)
	return cmd
}

func readToken(file string) (string, error) {
	if file == "" {
		return os.Getenv("MODELGATE_TOKEN"), nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("--token-file: %w", err)
	}
	tok := strings.TrimSpace(string(b))
	if tok == "" || strings.ContainsAny(tok, " \n\t") {
		return "", errors.New("--token-file: want one token on one line")
	}
	return tok, nil
}

// addRemoteFlags adds the server's worker flags (app.RemoteOptions) and
// the Redis key prefix.
func addRemoteFlags(f *pflag.FlagSet, o *app.Options) {
	r := &o.Remote
	f.StringVar(&o.StorePrefix, "store-prefix", "", `start every Redis key with this (default "modelgate:"): several installations on one Redis database`)
	f.StringSliceVar(&r.Stages, "remote-stages", nil, "stages run by workers (modelgate worker) instead of this server: any of validate,train,test,scan,evaluate; needs --store redis://")
	f.DurationVar(&r.ClaimIdle, "task-claim-idle", 2*time.Minute, "a task handed to a worker that has not reported after this goes to another worker; longer than a stage takes")
	f.Int64Var(&r.MaxDeliveries, "task-max-deliveries", 5, "a task handed out more often than this is dead-lettered and its stage fails")
}
