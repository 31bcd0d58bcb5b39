package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"skiff.dev/skiff/api/v1alpha1"
	"skiff.dev/skiff/internal/client"
)

func (a *app) describeCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "describe KIND NAME | KIND/NAME",
		Short: "Show an object in detail, with its conditions and events",
		Example: `  skiff describe job train
  skiff describe queue/team-a`,
		ValidArgsFunction: kindCompletion,
		RunE: a.run(func(cmd *cobra.Command, args []string, out *bufio.Writer) error {
			k, names, err := kindAndNames(args)
			if err != nil {
				return err
			}
			if len(names) == 0 {
				return &Error{Msg: fmt.Sprintf("name the %s to describe, e.g. skiff describe %s NAME", k.Singular, k.Singular)}
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			for i, name := range names {
				if i > 0 {
					out.WriteString("\n\n")
				}
				if err := a.describe(cmd.Context(), c, out, k, name); err != nil {
					return err
				}
			}
			return nil
		}),
	}
}

func (a *app) describe(ctx context.Context, c *client.Client, out *bufio.Writer, k v1alpha1.Kind, name string) error {
	ns := ""
	if k.Namespaced {
		ns = a.ns()
	}
	obj := k.New()
	if err := c.Get(ctx, ns, name, obj); err != nil {
		return err
	}
	events, err := objectEvents(ctx, c, k, obj)
	if err != nil {
		return err
	}
	now := a.now()
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	field := func(label, value string) { fmt.Fprintf(tw, "%s:\t%s\n", label, value) }
	field("Name", obj.GetName())
	if k.Namespaced {
		field("Namespace", obj.GetNamespace())
	}
	field("Kind", k.Kind)
	field("Labels", orNone(formatLabels(obj.GetLabels())))
	field("Annotations", orNone(formatLabels(obj.GetAnnotations())))
	ts := obj.GetCreationTimestamp()
	field("Created", fmt.Sprintf("%s (%s ago)", ts.UTC().Format("2006-01-02T15:04:05Z"), age(now, ts)))
	if f := obj.GetFinalizers(); len(f) > 0 {
		field("Finalizers", strings.Join(f, ", "))
	}
	if dt := obj.GetDeletionTimestamp(); dt != nil {
		field("Deleting since", fmt.Sprintf("%s (%s ago)", dt.UTC().Format("2006-01-02T15:04:05Z"), age(now, *dt)))
	}
	if err := tw.Flush(); err != nil {
		return err
	}

	// The body (spec, or an Event's fields) and status print as YAML;
	// conditions get their own table as in kubectl.
	b, err := json.Marshal(obj)
	if err != nil {
		return err
	}
	var body map[string]any
	if err := json.Unmarshal(b, &body); err != nil {
		return err
	}
	for _, key := range []string{"apiVersion", "kind", "metadata"} {
		delete(body, key)
	}
	status, _ := body["status"].(map[string]any)
	delete(body, "status")
	var conditions []metav1.Condition
	if raw, ok := status["conditions"]; ok {
		cb, _ := json.Marshal(raw)
		_ = json.Unmarshal(cb, &conditions)
		delete(status, "conditions")
	}
	keys := make([]string, 0, len(body))
	for key := range body {
		keys = append(keys, key)
	}
	sort.Strings(keys)
	if spec, ok := body["spec"]; ok {
		writeSection(out, "Spec", spec)
	}
	for _, key := range keys {
		if key != "spec" {
			writeSection(out, strings.ToUpper(key[:1])+key[1:], body[key])
		}
	}
	exp, isExperiment := obj.(*v1alpha1.Experiment)
	if isExperiment {
		delete(status, "trials") // printed as a table below
	}
	if len(status) > 0 {
		writeSection(out, "Status", status)
	}
	if isExperiment {
		if err := writeTrials(out, exp); err != nil {
			return err
		}
	}
	if k.Kind == "Job" {
		// The newest value of each metric the job reported; a server that
		// keeps no metrics, or a read that fails, leaves the section out.
		if pts, err := c.Metrics(ctx, ns, name, client.MetricsOptions{Latest: true}); err == nil && len(pts) > 0 {
			out.WriteString("Metrics (latest):\n")
			tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "  NAME\tSTEP\tVALUE\tAGE")
			for _, p := range pts {
				fmt.Fprintf(tw, "  %s\t%d\t%s\t%s\n", p.Name, p.Step, strconv.FormatFloat(p.Value, 'g', 6, 64), age(now, metav1.NewTime(p.Time)))
			}
			if err := tw.Flush(); err != nil {
				return err
			}
		}
	}
	if k.Kind != "Event" {
		out.WriteString("Conditions:\n")
		if len(conditions) == 0 {
			out.WriteString("  <none>\n")
		} else {
			tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "  TYPE\tSTATUS\tREASON\tAGE\tMESSAGE")
			for _, c := range conditions {
				fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", c.Type, c.Status, orNone(c.Reason), age(now, c.LastTransitionTime), oneLine(c.Message))
			}
			if err := tw.Flush(); err != nil {
				return err
			}
		}
		out.WriteString("Events:")
		if len(events) == 0 {
			out.WriteString(" <none>\n")
		} else {
			out.WriteString("\n")
			tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "  TYPE\tREASON\tAGE\tFROM\tMESSAGE")
			for _, e := range events {
				fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", e.Type, e.Reason, age(now, e.lastSeen()), orNone(e.Source), oneLine(e.Message))
			}
			if err := tw.Flush(); err != nil {
				return err
			}
		}
	}
	return nil
}

// writeSection prints "Title:" and v as YAML indented under it.
func writeSection(out *bufio.Writer, title string, v any) {
	b, err := yaml.Marshal(v)
	if err != nil {
		fmt.Fprintf(out, "%s: <%v>\n", title, err)
		return
	}
	s := strings.TrimRight(string(b), "\n")
	if s == "{}" || s == "null" || s == "[]" {
		fmt.Fprintf(out, "%s: <none>\n", title)
		return
	}
	if !strings.Contains(s, "\n") && !strings.HasPrefix(s, "- ") && !strings.Contains(s, ": ") {
		fmt.Fprintf(out, "%s: %s\n", title, s) // a scalar
		return
	}
	fmt.Fprintf(out, "%s:\n", title)
	for _, line := range strings.Split(s, "\n") {
		fmt.Fprintf(out, "  %s\n", line)
	}
}

// objectEvents lists the events about obj, oldest first.
func objectEvents(ctx context.Context, c *client.Client, k v1alpha1.Kind, obj v1alpha1.Object) ([]eventRow, error) {
	ek, _ := v1alpha1.LookupKind("events")
	fs := "involvedObject.kind=" + k.Kind + ",involvedObject.name=" + obj.GetName()
	if !k.Namespaced {
		// Events about cluster objects may be recorded in any namespace.
		fs += ",involvedObject.namespace="
	}
	body, err := c.ListStream(ctx, ek, client.ListOptions{Namespace: obj.GetNamespace(), FieldSelector: fs})
	if err != nil {
		return nil, err
	}
	defer body.Close()
	var events []eventRow
	_, err = scanList(body, func(raw []byte) error {
		var e eventRow
		if err := json.Unmarshal(raw, &e); err != nil {
			return err
		}
		events = append(events, e)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading events: %w", err)
	}
	sort.SliceStable(events, func(i, j int) bool { return events[i].lastSeen().Time.Before(events[j].lastSeen().Time) })
	return events, nil
}
