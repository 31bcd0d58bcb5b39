package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/yaml"

	"skiff.dev/skiff/api/v1alpha1"
	"skiff.dev/skiff/internal/client"
)

type getOptions struct {
	output        string
	watch         bool
	allNamespaces bool
	selector      string
	fieldSelector string
	noHeaders     bool
}

func (a *app) getCmd() *cobra.Command {
	var o getOptions
	cmd := &cobra.Command{
		Use:   "get KIND [NAME...] | KIND/NAME...",
		Short: "List objects or show some of them",
		Example: `  skiff get jobs
  skiff get jobs -A -o wide
  skiff get job/train -o yaml
  skiff get queues
  skiff get events -w`,
		ValidArgsFunction: kindCompletion,
		RunE: a.run(func(cmd *cobra.Command, args []string, out *bufio.Writer) error {
			return a.get(cmd.Context(), cmd.ErrOrStderr(), out, args, o)
		}),
	}
	f := cmd.Flags()
	f.StringVarP(&o.output, "output", "o", "", "output format: wide, yaml, json or name")
	f.BoolVarP(&o.watch, "watch", "w", false, "after listing, print changes as they happen")
	f.BoolVarP(&o.allNamespaces, "all-namespaces", "A", false, "list across all namespaces")
	f.StringVarP(&o.selector, "selector", "l", "", "label selector, e.g. app=train,tier!=gold")
	f.StringVar(&o.fieldSelector, "field-selector", "", "field selector, e.g. status.phase=Running")
	f.BoolVar(&o.noHeaders, "no-headers", false, "omit table headers")
	return cmd
}

// objPrinter prints objects given as JSON.
type objPrinter interface {
	item(raw []byte) error
	// flush ends a batch (the initial list, or one watch event).
	flush() error
}

func (a *app) newPrinter(out *bufio.Writer, k v1alpha1.Kind, o getOptions) (objPrinter, error) {
	switch o.output {
	case "", "wide":
		t, err := tableFor(k.Kind)
		if err != nil {
			return nil, err
		}
		return &tablePrinter{
			out: out, tw: tabwriter.NewWriter(out, 3, 0, 3, ' ', 0), t: t, now: a.now(),
			wide: o.output == "wide", withNS: o.allNamespaces && k.Namespaced, headers: !o.noHeaders,
		}, nil
	case "name":
		return &namePrinter{out: out, kind: k}, nil
	case "json", "yaml":
		return &structuredPrinter{out: out, kind: k, yaml: o.output == "yaml"}, nil
	}
	return nil, &Error{Msg: fmt.Sprintf("-o %s: use wide, yaml, json or name", o.output)}
}

func (a *app) get(ctx context.Context, stderr io.Writer, out *bufio.Writer, args []string, o getOptions) error {
	k, names, err := kindAndNames(args)
	if err != nil {
		return err
	}
	p, err := a.newPrinter(out, k, o)
	if err != nil {
		return err
	}
	c, err := a.client()
	if err != nil {
		return err
	}
	ns := a.ns()
	if o.allNamespaces || !k.Namespaced {
		ns = ""
	}
	if len(names) > 0 {
		if o.allNamespaces && k.Namespaced {
			return &Error{Msg: "-A lists every namespace: drop it when naming objects, and use -n NAMESPACE"}
		}
		return a.getNamed(ctx, c, p, out, k, ns, names, o)
	}
	opts := client.ListOptions{Namespace: ns, LabelSelector: o.selector, FieldSelector: o.fieldSelector}
	var rv string
	var n int
	if sp, ok := p.(*structuredPrinter); ok && !o.watch {
		// One document for the whole list, as kubectl prints it.
		list := k.NewList().(v1alpha1.ObjectList)
		if err := c.List(ctx, list, opts); err != nil {
			return err
		}
		return sp.list(list)
	}
	body, err := c.ListStream(ctx, k, opts)
	if err != nil {
		return err
	}
	if rp, ok := p.(rowPrinter); ok {
		rv, n, err = printList(body, rp)
	} else {
		rv, err = scanList(body, func(raw []byte) error {
			n++
			return p.item(raw)
		})
	}
	body.Close()
	if err != nil {
		return fmt.Errorf("reading the %s list: %w", k.Plural, err)
	}
	if err := p.flush(); err != nil {
		return err
	}
	if n == 0 && !o.watch {
		if ns != "" {
			fmt.Fprintf(stderr, "No resources found in %s namespace.\n", ns)
		} else {
			fmt.Fprintln(stderr, "No resources found")
		}
	}
	if !o.watch {
		return nil
	}
	if err := out.Flush(); err != nil {
		return err
	}
	opts.ResourceVersion = rv
	return watchAndPrint(ctx, c, k, opts, p, out)
}

func (a *app) getNamed(ctx context.Context, c *client.Client, p objPrinter, out *bufio.Writer, k v1alpha1.Kind, ns string, names []string, o getOptions) error {
	var objs []v1alpha1.Object
	for _, name := range names {
		obj := k.New()
		if err := c.Get(ctx, ns, name, obj); err != nil {
			return err
		}
		objs = append(objs, obj)
	}
	if sp, ok := p.(*structuredPrinter); ok && len(objs) > 1 && !o.watch {
		list := k.NewList().(v1alpha1.ObjectList)
		items := make([]runtime.Object, len(objs))
		for i := range objs {
			items[i] = objs[i]
		}
		if err := meta.SetList(list, items); err != nil {
			return err
		}
		return sp.list(list)
	}
	for _, obj := range objs {
		if err := printObject(p, obj); err != nil {
			return err
		}
	}
	if err := p.flush(); err != nil {
		return err
	}
	if !o.watch {
		return nil
	}
	if len(objs) != 1 {
		return &Error{Msg: "-w watches one named object or a whole list: name one object or none"}
	}
	if err := out.Flush(); err != nil {
		return err
	}
	opts := client.ListOptions{Namespace: ns, FieldSelector: "metadata.name=" + names[0], ResourceVersion: objs[0].GetResourceVersion()}
	return watchAndPrint(ctx, c, k, opts, p, out)
}

// printObject prints a typed object through the JSON-decoding printers.
func printObject(p objPrinter, obj v1alpha1.Object) error {
	if sp, ok := p.(*structuredPrinter); ok {
		return sp.object(obj)
	}
	v1alpha1.SetTypeMeta(obj)
	b, err := json.Marshal(obj)
	if err != nil {
		return err
	}
	return p.item(b)
}

// watchAndPrint prints each change until ctx is done (Ctrl-C) or the
// server ends the watch for good. When the server closes the stream it is
// reopened from the last seen version.
func watchAndPrint(ctx context.Context, c *client.Client, k v1alpha1.Kind, opts client.ListOptions, p objPrinter, out *bufio.Writer) error {
	for {
		w, err := c.Watch(ctx, k, opts)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		for ev := range w.ResultChan() {
			if ev.Type == watch.Error {
				w.Stop()
				return watchError(ev)
			}
			obj, ok := ev.Object.(v1alpha1.Object)
			if !ok || ev.Type == watch.Bookmark {
				continue
			}
			opts.ResourceVersion = obj.GetResourceVersion()
			if err := printObject(p, obj); err != nil {
				w.Stop()
				return err
			}
			if err := p.flush(); err != nil {
				w.Stop()
				return err
			}
			if err := out.Flush(); err != nil {
				w.Stop()
				return err
			}
		}
		w.Stop()
		if ctx.Err() != nil {
			return nil
		}
	}
}

type tablePrinter struct {
	out     *bufio.Writer
	tw      *tabwriter.Writer
	t       table
	now     time.Time
	wide    bool
	withNS  bool
	headers bool
}

func (p *tablePrinter) rowCells(raw []byte) ([]string, error) {
	ns, cells, wide, err := p.t.row(raw, p.now)
	if err != nil {
		return nil, err
	}
	if p.withNS {
		cells = append([]string{ns}, cells...)
	}
	if p.wide {
		cells = append(cells, wide...)
	}
	return cells, nil
}

func (p *tablePrinter) writeCells(cells []string) {
	if p.headers {
		p.headers = false
		h := p.t.headers
		if p.wide {
			h = append(append([]string(nil), h...), p.t.wide...)
		}
		if p.withNS {
			h = append([]string{"NAMESPACE"}, h...)
		}
		p.writeCells(h)
	}
	for i, c := range cells {
		if i > 0 {
			p.tw.Write([]byte{'\t'})
		}
		io.WriteString(p.tw, c)
	}
	p.tw.Write([]byte{'\n'})
}

func (p *tablePrinter) item(raw []byte) error {
	cells, err := p.rowCells(raw)
	if err != nil {
		return err
	}
	p.writeCells(cells)
	return nil
}

func (p *tablePrinter) flush() error { return p.tw.Flush() }

type namePrinter struct {
	out  *bufio.Writer
	kind v1alpha1.Kind
}

var nameField = newFieldSet("metadata.name")

func (p *namePrinter) rowCells(raw []byte) ([]string, error) {
	v, err := nameField.pluck(raw)
	if err != nil {
		return nil, err
	}
	return []string{qualified(p.kind, v.str("metadata.name"))}, nil
}

func (p *namePrinter) writeCells(cells []string) {
	p.out.WriteString(cells[0])
	p.out.WriteByte('\n')
}

func (p *namePrinter) item(raw []byte) error {
	cells, err := p.rowCells(raw)
	if err != nil {
		return err
	}
	p.writeCells(cells)
	return nil
}

func (p *namePrinter) flush() error { return nil }

// structuredPrinter prints full objects as JSON or YAML documents.
type structuredPrinter struct {
	out  *bufio.Writer
	kind v1alpha1.Kind
	yaml bool
	n    int
}

func (p *structuredPrinter) item(raw []byte) error {
	obj := p.kind.New()
	if err := json.Unmarshal(raw, obj); err != nil {
		return err
	}
	return p.object(obj)
}

func (p *structuredPrinter) object(obj v1alpha1.Object) error {
	v1alpha1.SetTypeMeta(obj)
	return p.write(obj)
}

func (p *structuredPrinter) list(list v1alpha1.ObjectList) error {
	list.GetObjectKind().SetGroupVersionKind(v1alpha1.GroupVersion.WithKind(p.kind.Kind + "List"))
	list.SetResourceVersion("")
	if err := meta.EachListItem(list, func(o runtime.Object) error {
		if obj, ok := o.(v1alpha1.Object); ok {
			v1alpha1.SetTypeMeta(obj)
		}
		return nil
	}); err != nil {
		return err
	}
	return p.write(list)
}

func (p *structuredPrinter) write(v any) error {
	if p.yaml {
		b, err := yaml.Marshal(v)
		if err != nil {
			return err
		}
		if p.n > 0 {
			p.out.WriteString("---\n")
		}
		p.n++
		_, err = p.out.Write(b)
		return err
	}
	b, err := json.MarshalIndent(v, "", "    ")
	if err != nil {
		return err
	}
	p.out.Write(b)
	return p.out.WriteByte('\n')
}

func (p *structuredPrinter) flush() error { return nil }
