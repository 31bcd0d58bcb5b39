package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"skiff.dev/skiff/api/v1alpha1"
	"skiff.dev/skiff/internal/auth"
	"skiff.dev/skiff/internal/client"
)

// Environment variables the CLI reads.
const (
	EnvServer = "SKIFF_SERVER"
	EnvToken  = "SKIFF_TOKEN"
)

// app holds what every command shares: global flags and the clock.
type app struct {
	version   string
	now       func() time.Time
	server    string
	token     string
	namespace string
	// httpClient, when set, replaces the client's transport (tests).
	httpClient *http.Client
	// stderr receives server warnings; run sets it to the command's.
	stderr io.Writer
}

// NewRoot returns the skiff command with its subcommands; extra commands
// (e.g. `up`) are added as they are.
func NewRoot(version string, extra ...*cobra.Command) *cobra.Command {
	return newRoot(&app{version: version, now: time.Now}, extra...)
}

func newRoot(a *app, extra ...*cobra.Command) *cobra.Command {
	root := &cobra.Command{
		Use:   "skiff",
		Short: "Skiff queues, schedules and runs AI workloads on shared GPU machines",
		Long: `Skiff queues, schedules and runs AI workloads on shared GPU machines.

Start a server with 'skiff up', then submit work with 'skiff apply -f job.yaml'
and follow it with 'skiff get jobs', 'skiff logs -f job/NAME'.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       a.version,
	}
	root.CompletionOptions.DisableDefaultCmd = true
	pf := root.PersistentFlags()
	pf.StringVar(&a.server, "server", "", "API server URL (default $"+EnvServer+", else the config file written by 'skiff up')")
	pf.StringVar(&a.token, "token", "", "bearer token (default $"+EnvToken+", else the config file's tokenFile)")
	pf.StringVarP(&a.namespace, "namespace", "n", "", "namespace (default \"default\")")
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return fmt.Errorf("%w: see '%s --help'", err, c.CommandPath())
	})
	root.AddCommand(
		a.applyCmd(), a.getCmd(), a.describeCmd(), a.deleteCmd(), a.logsCmd(), a.waitCmd(), a.metricsCmd(),
		a.versionCmd(), completionCmd(root), a.tokenCmd(), a.auditCmd(), a.topCmd(), a.requestsCmd(),
	)
	root.AddCommand(extra...)
	return root
}

// run adapts a command body: it translates errors into advice and flushes
// buffered output even on failure.
func (a *app) run(fn func(cmd *cobra.Command, args []string, out *bufio.Writer) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		out := bufio.NewWriterSize(cmd.OutOrStdout(), 64<<10)
		a.stderr = cmd.ErrOrStderr()
		err := fn(cmd, args, out)
		if ferr := out.Flush(); err == nil && ferr != nil {
			err = fmt.Errorf("writing output: %w", ferr)
		}
		return a.explain(err)
	}
}

// ns is the namespace for namespaced commands.
func (a *app) ns() string {
	if a.namespace != "" {
		return a.namespace
	}
	return v1alpha1.DefaultNamespace
}

// connection resolves the server and token: flags, then environment, then
// the user config file.
func (a *app) connection() (server, token string, err error) {
	server, token = a.server, a.token
	if server == "" {
		server = os.Getenv(EnvServer)
	}
	if token == "" {
		token = os.Getenv(EnvToken)
	}
	if server != "" && token != "" {
		return server, token, nil
	}
	cfg, path, err := LoadUserConfig()
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", "", err
	}
	if server == "" {
		server = cfg.Server
	}
	if server == "" {
		return "", "", &Error{Msg: fmt.Sprintf("no skiff server configured: start one with `skiff up` (it writes %s) or set --server or $%s", path, EnvServer)}
	}
	if token == "" && cfg.TokenFile != "" {
		token, err = auth.ReadTokenFile(cfg.TokenFile)
		if err != nil {
			return "", "", &Error{Msg: fmt.Sprintf("cannot read the token file named in %s: %v: run `skiff up` again or set --token", path, err), Err: err}
		}
	}
	if token == "" {
		return "", "", &Error{Msg: fmt.Sprintf("no token: set --token or $%s, or tokenFile in %s (written by `skiff up`)", EnvToken, path)}
	}
	return server, token, nil
}

func (a *app) client() (*client.Client, error) {
	server, token, err := a.connection()
	if err != nil {
		return nil, err
	}
	opts := []client.Option{client.WithWarningHandler(func(msg string) {
		if a.stderr != nil {
			fmt.Fprintf(a.stderr, "Warning: %s\n", msg)
		}
	})}
	if a.httpClient != nil {
		opts = append(opts, client.WithHTTPClient(a.httpClient))
	}
	return client.New(server, token, opts...), nil
}

// Error is a command failure whose message already says what to do. Err,
// when set, is the cause (e.g. a *apierrors.StatusError) for callers that
// want to inspect it.
type Error struct {
	Msg string
	Err error
}

func (e *Error) Error() string { return e.Msg }
func (e *Error) Unwrap() error { return e.Err }

// explain turns transport and authentication failures into advice; other
// server errors already name the object and the problem.
func (a *app) explain(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := err.(*Error); ok {
		return err
	}
	var ue *client.UnreachableError
	switch {
	case errors.As(err, &ue):
		return &Error{Err: err, Msg: fmt.Sprintf("cannot reach the skiff server at %s (%v): start it with `skiff up` or set --server", ue.Server, shortNetErr(ue.Err))}
	case apierrors.IsUnauthorized(err):
		server, _, _ := a.connection()
		return &Error{Err: err, Msg: fmt.Sprintf("the skiff server at %s rejected the token (unknown, expired or revoked): use a valid token (--token, $%s or tokenFile in the config file) or ask an admin for a new one (skiff token create)", server, EnvToken)}
	case errors.Is(err, context.DeadlineExceeded):
		return &Error{Err: err, Msg: "the request timed out: check that the server is healthy (`skiff version`)"}
	}
	return err
}

// shortNetErr keeps the last part of a dial error ("connection refused").
func shortNetErr(err error) string {
	s := err.Error()
	if i := strings.LastIndex(s, ": "); i >= 0 {
		return s[i+2:]
	}
	return s
}

// resolveKind finds a kind by any of its names.
func resolveKind(name string) (v1alpha1.Kind, error) {
	k, ok := v1alpha1.LookupKind(name)
	if !ok {
		return k, &Error{Msg: v1alpha1.UnknownKindError(name).Error()}
	}
	return k, nil
}

// kindAndNames reads "KIND [NAME...]" or "KIND/NAME [KIND/NAME...]" (one
// kind per command).
func kindAndNames(args []string) (v1alpha1.Kind, []string, error) {
	if len(args) == 0 {
		return v1alpha1.Kind{}, nil, &Error{Msg: "name a kind: one of jobs, queues, flavors, nodes, events (e.g. skiff get jobs)"}
	}
	if !strings.Contains(args[0], "/") {
		k, err := resolveKind(args[0])
		return k, args[1:], err
	}
	var kind v1alpha1.Kind
	var names []string
	for i, arg := range args {
		kn, name, ok := strings.Cut(arg, "/")
		if !ok || name == "" {
			return kind, nil, &Error{Msg: fmt.Sprintf("%q: write KIND/NAME, e.g. job/train", arg)}
		}
		k, err := resolveKind(kn)
		if err != nil {
			return kind, nil, err
		}
		if i > 0 && k.Kind != kind.Kind {
			return kind, nil, &Error{Msg: "name one kind per command: run it once per kind"}
		}
		kind = k
		names = append(names, name)
	}
	return kind, names, nil
}

// qualified is kubectl's name for an object: job.skiff.dev/train.
func qualified(k v1alpha1.Kind, name string) string {
	return k.Singular + "." + v1alpha1.Group + "/" + name
}

func (a *app) versionCmd() *cobra.Command {
	var clientOnly bool
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the client and server versions",
		Args:  cobra.NoArgs,
		RunE: a.run(func(cmd *cobra.Command, _ []string, out *bufio.Writer) error {
			fmt.Fprintf(out, "Client Version: %s\n", a.version)
			if clientOnly {
				return nil
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			v, err := c.Version(cmd.Context())
			if err != nil {
				return err
			}
			fmt.Fprintf(out, "Server Version: %s\n", v.Version)
			return nil
		}),
	}
	cmd.Flags().BoolVar(&clientOnly, "client", false, "print only the client version")
	return cmd
}

func completionCmd(root *cobra.Command) *cobra.Command {
	return &cobra.Command{
		Use:   "completion bash|zsh|fish|powershell",
		Short: "Print a shell completion script",
		Long: `Print a shell completion script. For example:

  source <(skiff completion bash)
  skiff completion zsh > "${fpath[1]}/_skiff"
  skiff completion fish > ~/.config/fish/completions/skiff.fish`,
		Args:      cobra.ExactArgs(1),
		ValidArgs: []string{"bash", "zsh", "fish", "powershell"},
		RunE: func(cmd *cobra.Command, args []string) error {
			w := cmd.OutOrStdout()
			switch args[0] {
			case "bash":
				return root.GenBashCompletionV2(w, true)
			case "zsh":
				return root.GenZshCompletion(w)
			case "fish":
				return root.GenFishCompletion(w, true)
			case "powershell":
				return root.GenPowerShellCompletionWithDesc(w)
			}
			return &Error{Msg: fmt.Sprintf("unknown shell %q: use bash, zsh, fish or powershell", args[0])}
		},
	}
}

// kindCompletion completes the first argument with kind names.
func kindCompletion(_ *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	var names []string
	for _, k := range v1alpha1.Kinds() {
		names = append(names, k.Plural)
	}
	return names, cobra.ShellCompDirectiveNoFileComp
}

// copyFlushing copies r to w, flushing after every read so followed output
// appears as it is produced.
func copyFlushing(w *bufio.Writer, r io.Reader) error {
	buf := make([]byte, 32<<10)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return werr
			}
			if werr := w.Flush(); werr != nil {
				return werr
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}
