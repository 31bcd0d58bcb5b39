package cli

import (
	"bufio"
	"encoding/json"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"skiff.dev/skiff/api/v1alpha1"
	"skiff.dev/skiff/internal/client"
)

func (a *app) tokenCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Create, list and revoke API tokens",
		Long: `Create, list and revoke API tokens. A token acts as one user with one role
(viewer, editor or admin) in one namespace. The admin token written by
'skiff up' is cluster-admin; an admin of a namespace manages that namespace's tokens.`,
	}
	cmd.AddCommand(a.tokenCreateCmd(), a.tokenListCmd(), a.tokenRevokeCmd())
	return cmd
}

func (a *app) tokenCreateCmd() *cobra.Command {
	var user, role, id string
	var ttl time.Duration
	cmd := &cobra.Command{
		Use:   "create --user NAME --namespace NS --role viewer|editor|admin [--ttl D]",
		Short: "Create a token; the token is printed alone on the last line",
		Example: `  skiff token create --user alice --namespace team-a --role editor --ttl 720h
  export SKIFF_TOKEN=$(skiff token create --user ci --namespace team-a --role viewer | tail -1)`,
		Args: cobra.NoArgs,
		RunE: a.run(func(cmd *cobra.Command, _ []string, out *bufio.Writer) error {
			if a.namespace == "" {
				return &Error{Msg: "--namespace is required: name the namespace the token may reach (it is created if missing)"}
			}
			if !v1alpha1.ValidRole(role) {
				return &Error{Msg: fmt.Sprintf("--role %q: use viewer, editor or admin", role)}
			}
			if user == "" {
				return &Error{Msg: "--user is required: name who the token is for, e.g. --user alice"}
			}
			tok := &v1alpha1.Token{ObjectMeta: metav1.ObjectMeta{Name: id},
				Spec: v1alpha1.TokenSpec{User: user, Namespace: a.namespace, Role: role}}
			if cmd.Flags().Changed("ttl") {
				if ttl <= 0 {
					return &Error{Msg: fmt.Sprintf("--ttl %s: use a positive duration such as 720h, or leave it out for no expiry", ttl)}
				}
				tok.Spec.TTL = &metav1.Duration{Duration: ttl}
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			if err := c.Create(cmd.Context(), tok); err != nil {
				return err
			}
			exp := "never expires"
			if tok.Spec.ExpiresAt != nil {
				exp = "expires " + tok.Spec.ExpiresAt.UTC().Format(time.RFC3339)
			}
			fmt.Fprintf(out, "token %s created for user %s (%s in %s), %s; it is shown only now:\n", tok.Name, user, role, a.namespace, exp)
			fmt.Fprintln(out, tok.Status.Token)
			return nil
		}),
	}
	f := cmd.Flags()
	f.StringVar(&user, "user", "", "user name the token acts as")
	f.StringVar(&role, "role", "", "viewer, editor or admin")
	f.DurationVar(&ttl, "ttl", 0, "lifetime, e.g. 720h (default: no expiry)")
	f.StringVar(&id, "id", "", "token ID (default: generated)")
	return cmd
}

func (a *app) tokenListCmd() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List tokens (without their secrets)",
		Args:  cobra.NoArgs,
		RunE: a.run(func(cmd *cobra.Command, _ []string, out *bufio.Writer) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			var list v1alpha1.TokenList
			opts := client.ListOptions{}
			if a.namespace != "" {
				opts.FieldSelector = "spec.namespace=" + a.namespace
			}
			if err := c.List(cmd.Context(), &list, opts); err != nil {
				return err
			}
			if output == "json" {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				return enc.Encode(&list)
			}
			if output != "" {
				return &Error{Msg: fmt.Sprintf("-o %s: use json, or leave it out for a table", output)}
			}
			now := a.now()
			tw := tabwriter.NewWriter(out, 0, 8, 3, ' ', 0)
			fmt.Fprintln(tw, "ID\tUSER\tNAMESPACE\tROLE\tEXPIRES\tAGE")
			for _, t := range list.Items {
				exp := "never"
				if t.Spec.ExpiresAt != nil {
					exp = t.Spec.ExpiresAt.UTC().Format(time.RFC3339)
					if !now.Before(t.Spec.ExpiresAt.Time) {
						exp = "expired"
					}
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", t.Name, t.Spec.User, t.Spec.Namespace, t.Spec.Role, exp, age(now, t.CreationTimestamp))
			}
			return tw.Flush()
		}),
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "json")
	return cmd
}

func (a *app) tokenRevokeCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "revoke ID...",
		Short: "Revoke tokens; they stop working at once",
		Args:  cobra.MinimumNArgs(1),
		RunE: a.run(func(cmd *cobra.Command, args []string, out *bufio.Writer) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			k, _ := v1alpha1.LookupKind("Token")
			for _, id := range args {
				if err := c.Delete(cmd.Context(), k, "", id); err != nil {
					return err
				}
				fmt.Fprintf(out, "token %s revoked\n", id)
			}
			return nil
		}),
	}
}
