package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"skiff.dev/skiff/internal/operator"
	"skiff.dev/skiff/internal/server"
)

func operatorCommand() *cobra.Command {
	var (
		cfg      operator.Config
		srv      server.Config
		logLevel string
	)
	cmd := &cobra.Command{
		Use:   "operator",
		Short: "Run Skiff on a Kubernetes cluster",
		Long: `Run the control plane over a Kubernetes cluster: skiff.dev objects are custom
resources, replicas are pods bound to the nodes the scheduler chose, and the
cluster's nodes are the inventory. Run it in the cluster (see deploy/kubernetes)
or from a machine with --kubeconfig.

Several replicas may run: a Lease in --namespace elects the leader, which
serves the API, gateway and dashboard and runs the scheduler and
controllers; the others wait and take over if it goes. The admin token is the
Secret ` + operator.SecretName + ` in --namespace (key admin.token).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var level slog.Level
			if err := level.UnmarshalText([]byte(logLevel)); err != nil {
				return fmt.Errorf("--log-level: %q: use debug, info, warn or error", logLevel)
			}
			if srv.DataDir == "" {
				dir, err := os.MkdirTemp("", "skiff-operator-")
				if err != nil {
					return err
				}
				srv.DataDir = dir
			}
			for name, d := range map[string]time.Duration{"--lease-duration": cfg.LeaseDuration, "--renew-deadline": cfg.RenewDeadline, "--retry-period": cfg.RetryPeriod} {
				if d < 0 {
					return fmt.Errorf("%s: %s is negative: use a duration such as 15s", name, d)
				}
			}
			if cfg.LeaseDuration > 0 && cfg.RenewDeadline > 0 && cfg.RenewDeadline >= cfg.LeaseDuration {
				return fmt.Errorf("--renew-deadline %s must be shorter than --lease-duration %s", cfg.RenewDeadline, cfg.LeaseDuration)
			}
			ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			cmd.SilenceUsage = true
			return operator.Run(ctx, cfg, srv, server.Options{
				Version: version,
				Out:     cmd.OutOrStdout(),
				Log:     slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: level})),
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.Kubeconfig, "kubeconfig", "", "kubeconfig file (default: the in-cluster service account)")
	f.StringVar(&cfg.Namespace, "namespace", "skiff-system", "namespace of the leader lease and the credentials secret")
	f.StringVar(&cfg.Identity, "identity", "", "this replica's name in the leader lease (default: host name and a random suffix)")
	f.BoolVar(&cfg.InstallCRDs, "install-crds", false, "create or upgrade the skiff.dev CRDs at start (needs permission to write CRDs)")
	f.DurationVar(&cfg.LeaseDuration, "lease-duration", 15*time.Second, "how long followers wait before taking over a lease that is not renewed")
	f.DurationVar(&cfg.RenewDeadline, "renew-deadline", 10*time.Second, "how long the leader tries to renew before giving the lease up")
	f.DurationVar(&cfg.RetryPeriod, "retry-period", 2*time.Second, "how often replicas try to acquire or renew the lease")
	f.StringVar(&cfg.DefaultImage, "default-image", "", "image of replicas whose template names none")
	f.StringVar(&cfg.ReplicaAPIURL, "replica-api-url", "", "the API as replicas reach it, e.g. http://skiff.skiff-system.svc:7400 (empty: replicas get no SKIFF_API)")
	f.IntVar(&cfg.RendezvousPort, "rendezvous-port", 29500, "port of the training presets' coordinator (MASTER_PORT)")
	f.StringVar(&srv.DataDir, "data-dir", "", "scratch directory for metrics and the request log (default: a new temporary directory)")
	f.StringVar(&srv.Listen, "listen", server.DefaultListen, "address the API and dashboard listen on while leading")
	f.StringVar(&srv.GatewayListen, "gateway-listen", server.DefaultGatewayListen, "address the OpenAI-compatible gateway listens on while leading")
	f.IntVar(&srv.StopGraceSeconds, "stop-grace-seconds", 30, "grace period of a stopped or preempted pod before SIGKILL")
	f.StringVar(&srv.OTLPEndpoint, "otlp-endpoint", "", "export traces over OTLP/HTTP to this URL")
	f.StringVar(&logLevel, "log-level", "info", "log level: debug, info, warn, error")
	return cmd
}
