package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"

	"skiff.dev/skiff/api/v1alpha1"
	"skiff.dev/skiff/internal/client"
)

// waitFor is a parsed --for.
type waitFor struct {
	deleted   bool
	condition string
	status    metav1.ConditionStatus
}

func parseWaitFor(s string) (waitFor, error) {
	if s == "delete" {
		return waitFor{deleted: true}, nil
	}
	if c, ok := strings.CutPrefix(s, "condition="); ok && c != "" {
		w := waitFor{condition: c, status: metav1.ConditionTrue}
		if name, st, ok := strings.Cut(c, "="); ok {
			w.condition = name
			switch strings.ToLower(st) {
			case "true":
			case "false":
				w.status = metav1.ConditionFalse
			default:
				return w, &Error{Msg: fmt.Sprintf("--for=%s: the condition status must be True or False", s)}
			}
		}
		return w, nil
	}
	return waitFor{}, &Error{Msg: fmt.Sprintf("--for=%q: use --for=condition=NAME (e.g. condition=Succeeded) or --for=delete", s)}
}

func (a *app) waitCmd() *cobra.Command {
	var forFlag string
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "wait KIND/NAME... --for=condition=NAME|delete [--timeout=30s]",
		Short: "Wait until objects meet a condition or are deleted",
		Long: `Wait until objects meet a condition or are deleted.

Waiting for a job condition other than Failed stops with an error as soon as
the job fails, so 'skiff wait job/x --for=condition=Succeeded' exits non-zero
for a failed job instead of waiting out the timeout.`,
		Example: `  skiff wait job/train --for=condition=Succeeded --timeout=2m
  skiff wait job/train --for=delete`,
		RunE: a.run(func(cmd *cobra.Command, args []string, out *bufio.Writer) error {
			wf, err := parseWaitFor(forFlag)
			if err != nil {
				return err
			}
			k, names, err := kindAndNames(args)
			if err != nil {
				return err
			}
			if len(names) == 0 {
				return &Error{Msg: fmt.Sprintf("name what to wait for, e.g. skiff wait %s/NAME --for=%s", k.Singular, forFlag)}
			}
			if err := checkJobCondition(k.Kind, wf); err != nil {
				return err
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			// On a terminal, stderr shows what is waited on and why it waits.
			prog := newWaitProgress(cmd.ErrOrStderr(), isTerminal(cmd.ErrOrStderr()), 100*time.Millisecond)
			defer prog.finish()
			for _, name := range names {
				if err := a.wait(ctx, c, k, name, wf, prog); err != nil {
					if errors.Is(err, context.DeadlineExceeded) && cmd.Context().Err() == nil {
						return a.timeoutError(k, name, wf, timeout)
					}
					return err
				}
				if wf.deleted {
					fmt.Fprintf(out, "%s deleted\n", qualified(k, name))
				} else {
					fmt.Fprintf(out, "%s condition met\n", qualified(k, name))
				}
			}
			return nil
		}),
	}
	cmd.Flags().StringVar(&forFlag, "for", "", "condition=NAME[=True|False] or delete")
	cmd.Flags().DurationVar(&timeout, "timeout", 30*time.Second, "how long to wait, e.g. 90s or 2m")
	_ = cmd.MarkFlagRequired("for")
	return cmd
}

func (a *app) timeoutError(k v1alpha1.Kind, name string, wf waitFor, timeout time.Duration) error {
	what := "to be deleted"
	if !wf.deleted {
		what = fmt.Sprintf("for condition %s=%s", wf.condition, wf.status)
	}
	return &Error{Msg: fmt.Sprintf("timed out after %v waiting %s on %s/%s: raise --timeout or see `skiff describe %s %s`",
		timeout, what, k.Singular, name, k.Singular, name), Err: context.DeadlineExceeded}
}

// wait blocks until the object satisfies wf. It reads the object, then
// watches it from that version; when the watch ends or expires it reads
// again, so no change between the two is missed.
func (a *app) wait(ctx context.Context, c *client.Client, k v1alpha1.Kind, name string, wf waitFor, prog *waitProgress) error {
	ns := ""
	if k.Namespaced {
		ns = a.ns()
	}
	for {
		obj := k.New()
		err := c.Get(ctx, ns, name, obj)
		switch {
		case apierrors.IsNotFound(err) && wf.deleted:
			return nil
		case err != nil:
			return err
		}
		prog.observe(k.Singular+"/"+name, obj)
		if done, err := check(k, obj, wf); done || err != nil {
			return err
		}
		w, err := c.Watch(ctx, k, client.ListOptions{
			Namespace: ns, FieldSelector: "metadata.name=" + name, ResourceVersion: obj.GetResourceVersion(),
		})
		if err != nil {
			return err
		}
		done, err := waitEvents(w, k, name, wf, prog)
		w.Stop()
		if done || err != nil {
			return err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
}

// waitEvents consumes a watch until wf holds (done), the object fails, or
// the stream ends (neither: the caller reads the object again).
func waitEvents(w watch.Interface, k v1alpha1.Kind, name string, wf waitFor, prog *waitProgress) (bool, error) {
	for ev := range w.ResultChan() {
		switch ev.Type {
		case watch.Error:
			if st, ok := ev.Object.(*metav1.Status); ok && st.Code == 410 {
				return false, nil // expired: read again
			}
			return false, watchError(ev)
		case watch.Deleted:
			if wf.deleted {
				return true, nil
			}
			return false, &Error{Msg: fmt.Sprintf("%s/%s was deleted while waiting for condition %s", k.Singular, name, wf.condition)}
		case watch.Added, watch.Modified:
			obj, ok := ev.Object.(v1alpha1.Object)
			if !ok {
				continue
			}
			prog.observe(k.Singular+"/"+name, obj)
			if done, err := check(k, obj, wf); done || err != nil {
				return done, err
			}
		}
	}
	return false, nil
}

// check reports whether obj satisfies wf, and fails fast when a job
// failed while waiting for anything else.
func check(k v1alpha1.Kind, obj v1alpha1.Object, wf waitFor) (bool, error) {
	if wf.deleted {
		return false, nil
	}
	b, err := json.Marshal(obj)
	if err != nil {
		return false, err
	}
	var o struct {
		Status struct {
			Phase      string             `json:"phase"`
			Conditions []metav1.Condition `json:"conditions"`
		} `json:"status"`
	}
	if err := json.Unmarshal(b, &o); err != nil {
		return false, err
	}
	cond := func(t string) *metav1.Condition {
		for i := range o.Status.Conditions {
			if o.Status.Conditions[i].Type == t {
				return &o.Status.Conditions[i]
			}
		}
		return nil
	}
	if c := cond(wf.condition); c != nil {
		if c.Status == wf.status {
			return true, nil
		}
	} else if wf.status == metav1.ConditionTrue && o.Status.Phase == wf.condition {
		// A phase of the same name counts when the condition is missing.
		return true, nil
	}
	if k.Kind == "Job" && wf.condition != v1alpha1.JobConditionFailed {
		failed := cond(v1alpha1.JobConditionFailed)
		if (failed != nil && failed.Status == metav1.ConditionTrue) || o.Status.Phase == string(v1alpha1.JobFailed) {
			msg := "the job failed"
			if failed != nil && failed.Message != "" {
				msg = "the job failed: " + oneLine(failed.Message)
			}
			return false, &Error{Msg: fmt.Sprintf("job/%s will not become %s, %s: see `skiff logs job/%s` and `skiff describe job %s`",
				obj.GetName(), wf.condition, msg, obj.GetName(), obj.GetName())}
		}
	}
	return false, nil
}

// watchError turns an ERROR watch event into an error.
func watchError(ev watch.Event) error {
	if st, ok := ev.Object.(*metav1.Status); ok {
		if st.Code == 410 {
			return &Error{Msg: "the watch fell too far behind the server: run the command again", Err: &apierrors.StatusError{ErrStatus: *st}}
		}
		return &apierrors.StatusError{ErrStatus: *st}
	}
	return fmt.Errorf("watch error: %v", ev.Object)
}

// jobConditions are the condition types a Job ever reports.
var jobConditions = []string{"Admitted", "Running", "Succeeded", "Failed"}

// checkJobCondition rejects a condition a Job never has, which would
// otherwise wait out the whole timeout.
func checkJobCondition(kind string, wf waitFor) error {
	if kind != "Job" || wf.deleted {
		return nil
	}
	for _, c := range jobConditions {
		if strings.EqualFold(c, wf.condition) {
			return nil
		}
	}
	return &Error{Msg: fmt.Sprintf("--for=condition=%s: a job has no such condition: use one of %s", wf.condition, strings.Join(jobConditions, ", "))}
}
