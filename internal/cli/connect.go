package cli

import (
	"time"

	"github.com/spf13/cobra"

	"skiff.dev/skiff/internal/client"
)

// Connect returns a client for a command added to the root from outside
// this package (e.g. `skiff sim --from-cluster`): the server and token are
// resolved as for every other command (--server/--token, then
// $SKIFF_SERVER/$SKIFF_TOKEN, then the config file written by `skiff up`).
// Pass the command's errors through Explain.
func Connect(cmd *cobra.Command) (*client.Client, error) {
	a := connectApp(cmd)
	c, err := a.client()
	return c, a.explain(err)
}

// Explain turns transport and authentication errors of a Connect client
// into advice, as the CLI's own commands do.
func Explain(cmd *cobra.Command, err error) error {
	return connectApp(cmd).explain(err)
}

func connectApp(cmd *cobra.Command) *app {
	a := &app{now: time.Now, stderr: cmd.ErrOrStderr()}
	if f := cmd.Flags().Lookup("server"); f != nil {
		a.server = f.Value.String()
	}
	if f := cmd.Flags().Lookup("token"); f != nil {
		a.token = f.Value.String()
	}
	return a
}
