package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"

	"skiff.dev/skiff/internal/cli"
	"skiff.dev/skiff/internal/runtime/local"
	"skiff.dev/skiff/internal/server"
)

func upCommand() *cobra.Command {
	var (
		cfg        server.Config
		configFile string
		noUserConf bool
		logLevel   string
		gpuSample  time.Duration
	)
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Start the Skiff control plane on this machine",
		Long: `Start the embedded control plane: API server, store, scheduler, controllers and
the local runtime, in this process. Stop it with Ctrl-C (SIGINT) or SIGTERM:
replicas are stopped and state is flushed.

Settings come from flags, or from a YAML file given with --config whose keys
are dataDir, listen, gatewayListen, gatewayMaxBodyBytes, gpus, gpuModel, nodeName, stopGraceSeconds,
backoffBaseSeconds, elasticGrowAfterSeconds, otlpEndpoint and gpuSampleSeconds. Flags win over the file.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			merged := server.Config{}
			if configFile != "" {
				data, err := os.ReadFile(configFile)
				if err != nil {
					return fmt.Errorf("reading --config: %w", err)
				}
				if err := yaml.UnmarshalStrict(data, &merged); err != nil {
					return fmt.Errorf("--config %s: %w: valid keys are dataDir, listen, gatewayListen, gatewayMaxBodyBytes, gpus, gpuModel, nodeName, stopGraceSeconds, backoffBaseSeconds, elasticGrowAfterSeconds, otlpEndpoint, gpuSampleSeconds", configFile, err)
				}
			}
			f := cmd.Flags()
			if f.Changed("data-dir") || merged.DataDir == "" {
				merged.DataDir = cfg.DataDir
			}
			if f.Changed("listen") || merged.Listen == "" {
				merged.Listen = cfg.Listen
			}
			if f.Changed("gpus") {
				merged.GPUs = cfg.GPUs
			}
			if f.Changed("gpu-model") {
				merged.GPUModel = cfg.GPUModel
			}
			if f.Changed("node-name") {
				merged.NodeName = cfg.NodeName
			}
			if f.Changed("otlp-endpoint") {
				merged.OTLPEndpoint = cfg.OTLPEndpoint
			}
			if f.Changed("gpu-sample-interval") {
				if gpuSample <= 0 {
					return fmt.Errorf("--gpu-sample-interval: %s: use a positive duration such as 10s", gpuSample)
				}
				merged.GPUSampleSeconds = gpuSample.Seconds()
			}
			if f.Changed("gateway-listen") || merged.GatewayListen == "" {
				merged.GatewayListen = cfg.GatewayListen
			}
			if f.Changed("gateway-max-body-bytes") {
				merged.GatewayMaxBodyBytes = cfg.GatewayMaxBodyBytes
			}
			if merged.GatewayMaxBodyBytes < 0 {
				return fmt.Errorf("--gateway-max-body-bytes: %d is negative: give a size in bytes, e.g. 8388608", merged.GatewayMaxBodyBytes)
			}
			if merged.GPUs < 0 {
				return fmt.Errorf("--gpus: %d is negative: declare 0 or more GPUs", merged.GPUs)
			}
			if merged.DataDir == "" {
				merged.DataDir = defaultDataDir()
			}
			abs, err := filepath.Abs(merged.DataDir)
			if err != nil {
				return err
			}
			merged.DataDir = abs
			var level slog.Level
			if err := level.UnmarshalText([]byte(logLevel)); err != nil {
				return fmt.Errorf("--log-level: %q: use debug, info, warn or error", logLevel)
			}
			self, err := os.Executable()
			if err != nil {
				return fmt.Errorf("finding the skiff binary for replica supervisors: %w", err)
			}
			ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			cmd.SilenceUsage = true
			return server.Run(ctx, merged, server.Options{
				Version:     version,
				ShimCommand: []string{self, "shim"},
				Out:         cmd.OutOrStdout(),
				Log:         slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: level})),
				OnReady: func(url, tokenPath string) {
					if noUserConf {
						return
					}
					if path, err := cli.WriteUserConfig(url, tokenPath); err != nil {
						fmt.Fprintf(cmd.ErrOrStderr(), "warning: could not write the CLI config: %v\n", err)
					} else {
						fmt.Fprintf(cmd.OutOrStdout(), "CLI config: %s\n", path)
					}
				},
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.DataDir, "data-dir", "", "directory for the store, tokens and replica logs (default $XDG_DATA_HOME/skiff or ~/.local/share/skiff)")
	f.StringVar(&cfg.Listen, "listen", server.DefaultListen, "address the API listens on")
	f.IntVar(&cfg.GPUs, "gpus", 0, "declare this many GPUs (for machines without NVIDIA GPUs or to override detection)")
	f.StringVar(&cfg.GPUModel, "gpu-model", "", "GPU model name of the declared GPUs, e.g. H100")
	f.StringVar(&cfg.GatewayListen, "gateway-listen", server.DefaultGatewayListen, "address the OpenAI-compatible gateway listens on")
	f.Int64Var(&cfg.GatewayMaxBodyBytes, "gateway-max-body-bytes", 0, "largest request body the gateway accepts (default 8 MiB); larger ones get 413")
	f.StringVar(&cfg.NodeName, "node-name", "", "name of this machine's Node (default: the host name)")
	f.StringVar(&configFile, "config", "", "YAML file with the same settings")
	f.BoolVar(&noUserConf, "no-user-config", false, "do not write the CLI config file for this user")
	f.StringVar(&logLevel, "log-level", "info", "log level: debug, info, warn, error")
	f.StringVar(&cfg.OTLPEndpoint, "otlp-endpoint", "", "export traces over OTLP/HTTP to this URL, e.g. http://127.0.0.1:4318 (default: $OTEL_EXPORTER_OTLP_ENDPOINT; unset: no traces are sent)")
	f.DurationVar(&gpuSample, "gpu-sample-interval", 10*time.Second, "how often GPU telemetry is read with nvidia-smi")
	return cmd
}

func defaultDataDir() string {
	if d := os.Getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "skiff")
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".local", "share", "skiff")
	}
	return "skiff-data"
}

// shimCommand is the replica supervisor the local runtime starts; it is not
// meant to be run by hand.
func shimCommand() *cobra.Command {
	return &cobra.Command{
		Use:                "shim",
		Hidden:             true,
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			os.Exit(local.ShimMain(args))
			return nil
		},
	}
}
