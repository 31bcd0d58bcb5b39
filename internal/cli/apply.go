package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"skiff.dev/skiff/api/v1alpha1"
	"skiff.dev/skiff/internal/client"
)

func (a *app) applyCmd() *cobra.Command {
	var files []string
	cmd := &cobra.Command{
		Use:   "apply -f FILE|DIR|-",
		Short: "Create or update objects from manifests",
		Long: `Create or update objects from YAML or JSON manifests.

A file may hold several documents separated by '---'; a directory is read
recursively (.yaml, .yml, .json); '-' reads standard input. Every manifest
is decoded first, so a malformed one (a misspelled field, a wrong type,
YAML that does not parse) applies nothing. The server then checks each
object as it is applied, in order: one it refuses is reported and not
stored, and the others are still applied, as kubectl does; the command
exits non-zero if any was refused.

A Token created this way prints its secret once, as 'skiff token create'
does; the server keeps only a hash of it.`,
		Example: `  skiff apply -f train.yaml
  skiff apply -f examples/
  cat job.yaml | skiff apply -f -`,
		Args: cobra.NoArgs,
		RunE: a.run(func(cmd *cobra.Command, _ []string, out *bufio.Writer) error {
			return a.apply(cmd, files, out)
		}),
	}
	cmd.Flags().StringSliceVarP(&files, "filename", "f", nil, "file, directory or - for stdin (repeatable)")
	_ = cmd.MarkFlagRequired("filename")
	return cmd
}

// manifest is one decoded document and where it came from.
type manifest struct {
	obj    v1alpha1.Object
	source string
}

func (a *app) apply(cmd *cobra.Command, files []string, out *bufio.Writer) error {
	objs, err := a.readManifests(cmd.InOrStdin(), files)
	if err != nil {
		return err
	}
	c, err := a.client()
	if err != nil {
		return err
	}
	return a.each(cmd.Context(), cmd.ErrOrStderr(), objs, func(ctx context.Context, m manifest) error {
		k, _ := v1alpha1.KindOf(m.obj)
		res, err := c.Apply(ctx, m.obj)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "%s %s\n", qualified(k, m.obj.GetName()), res)
		if tok, ok := m.obj.(*v1alpha1.Token); ok && res == client.Created && tok.Status.Token != "" {
			fmt.Fprintf(out, "token %s: its secret is shown only now:\n%s\n", tok.Name, tok.Status.Token)
		}
		return out.Flush()
	})
}

// each runs fn for every manifest, going on after failures as kubectl
// does. One failure is returned as is; several are printed and summed up.
func (a *app) each(ctx context.Context, stderr io.Writer, objs []manifest, fn func(context.Context, manifest) error) error {
	var failed []error
	for _, m := range objs {
		if err := fn(ctx, m); err != nil {
			err = a.explain(err)
			if isConnectionError(err) || ctx.Err() != nil {
				return err // the next object would fail the same way
			}
			failed = append(failed, &Error{Msg: m.source + ": " + err.Error(), Err: err})
		}
	}
	switch len(failed) {
	case 0:
		return nil
	case 1:
		return failed[0]
	}
	for _, err := range failed {
		fmt.Fprintf(stderr, "error: %v\n", err)
	}
	return &Error{Msg: fmt.Sprintf("%d of %d objects failed (see above)", len(failed), len(objs))}
}

// isConnectionError is a failure every later request would repeat.
func isConnectionError(err error) bool {
	var ue *client.UnreachableError
	return errors.As(err, &ue) || apierrors.IsUnauthorized(err)
}

// readManifests decodes every document of every file before anything is
// sent, so a malformed manifest applies nothing.
func (a *app) readManifests(stdin io.Reader, paths []string) ([]manifest, error) {
	var out []manifest
	for _, p := range paths {
		if p == "-" {
			b, err := io.ReadAll(stdin)
			if err != nil {
				return nil, fmt.Errorf("reading stdin: %w", err)
			}
			ms, err := a.decodeManifests("stdin", b)
			if err != nil {
				return nil, err
			}
			out = append(out, ms...)
			continue
		}
		files, err := manifestFiles(p)
		if err != nil {
			return nil, err
		}
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				return nil, &Error{Msg: fmt.Sprintf("cannot read %s: %v", f, err), Err: err}
			}
			ms, err := a.decodeManifests(f, b)
			if err != nil {
				return nil, err
			}
			out = append(out, ms...)
		}
	}
	if len(out) == 0 {
		return nil, &Error{Msg: fmt.Sprintf("no objects found in %s: give files with apiVersion, kind and metadata", strings.Join(paths, ", "))}
	}
	return out, nil
}

// manifestFiles expands a directory into its manifest files, recursively
// and in lexical order.
func manifestFiles(p string) ([]string, error) {
	fi, err := os.Stat(p)
	if err != nil {
		return nil, &Error{Msg: fmt.Sprintf("cannot read %s: %v: give a file, a directory or - for stdin", p, unwrapPathError(err)), Err: err}
	}
	if !fi.IsDir() {
		return []string{p}, nil
	}
	var files []string
	err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && path != p && strings.HasPrefix(d.Name(), ".") {
			return filepath.SkipDir
		}
		switch strings.ToLower(filepath.Ext(path)) {
		case ".yaml", ".yml", ".json":
			if !d.IsDir() {
				files = append(files, path)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading directory %s: %w", p, err)
	}
	return files, nil
}

func unwrapPathError(err error) error {
	if pe, ok := err.(*fs.PathError); ok {
		return pe.Err
	}
	return err
}

func (a *app) decodeManifests(source string, data []byte) ([]manifest, error) {
	docs, err := v1alpha1.SplitYAML(data)
	if err != nil {
		return nil, &Error{Msg: fmt.Sprintf("%s: %v", source, err), Err: err}
	}
	var out []manifest
	for i, doc := range docs {
		where := source
		if len(docs) > 1 {
			where = fmt.Sprintf("%s (document %d)", source, i+1)
		}
		obj, err := v1alpha1.Decode(doc)
		if err != nil {
			return nil, &Error{Msg: fmt.Sprintf("%s: %v", where, err), Err: err}
		}
		k, err := v1alpha1.KindOf(obj)
		if err != nil {
			return nil, err
		}
		if k.Namespaced {
			switch ns := obj.GetNamespace(); {
			case ns == "":
				obj.SetNamespace(a.ns())
			case a.namespace != "" && ns != a.namespace:
				return nil, &Error{Msg: fmt.Sprintf("%s: metadata.namespace %q does not match -n %s: remove one of them", where, ns, a.namespace)}
			}
		}
		out = append(out, manifest{obj: obj, source: where})
	}
	return out, nil
}

func (a *app) deleteCmd() *cobra.Command {
	var files []string
	var ignoreNotFound bool
	cmd := &cobra.Command{
		Use:   "delete KIND NAME... | KIND/NAME... | -f FILE",
		Short: "Delete objects",
		Example: `  skiff delete job train
  skiff delete job/train job/eval
  skiff delete -f train.yaml`,
		ValidArgsFunction: kindCompletion,
		RunE: a.run(func(cmd *cobra.Command, args []string, out *bufio.Writer) error {
			var objs []manifest
			switch {
			case len(files) > 0 && len(args) > 0:
				return &Error{Msg: "give either -f FILE or KIND NAME, not both"}
			case len(files) > 0:
				var err error
				if objs, err = a.readManifests(cmd.InOrStdin(), files); err != nil {
					return err
				}
				// Users before what they use (a queue before its flavor),
				// whatever the files' order; file order within a kind.
				sort.SliceStable(objs, func(i, j int) bool { return deleteRank(objs[i].obj) < deleteRank(objs[j].obj) })
			default:
				k, names, err := kindAndNames(args)
				if err != nil {
					return err
				}
				if len(names) == 0 {
					return &Error{Msg: fmt.Sprintf("name the %s to delete, e.g. skiff delete %s NAME", k.Plural, k.Singular)}
				}
				for _, n := range names {
					obj := k.New()
					obj.SetName(n)
					if k.Namespaced {
						obj.SetNamespace(a.ns())
					}
					objs = append(objs, manifest{obj: obj, source: qualified(k, n)})
				}
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			return a.each(cmd.Context(), cmd.ErrOrStderr(), objs, func(ctx context.Context, m manifest) error {
				k, _ := v1alpha1.KindOf(m.obj)
				err := c.Delete(ctx, k, m.obj.GetNamespace(), m.obj.GetName())
				if err != nil && !(ignoreNotFound && apierrors.IsNotFound(err)) {
					return err
				}
				if err == nil {
					fmt.Fprintf(out, "%s.%s %q deleted\n", k.Singular, v1alpha1.Group, m.obj.GetName())
				}
				return out.Flush()
			})
		}),
	}
	cmd.Flags().StringSliceVarP(&files, "filename", "f", nil, "delete the objects in these manifests")
	cmd.Flags().BoolVar(&ignoreNotFound, "ignore-not-found", false, "succeed when an object does not exist")
	return cmd
}

// deleteRank orders deletion: objects that use others go first, so that
// none is refused for being in use (a Flavor while a Queue names it).
func deleteRank(obj v1alpha1.Object) int {
	switch obj.(type) {
	case *v1alpha1.InferenceService, *v1alpha1.Experiment:
		return 0 // they own jobs
	case *v1alpha1.Job, *v1alpha1.Event:
		return 1
	case *v1alpha1.Queue:
		return 3
	case *v1alpha1.Flavor:
		return 4
	case *v1alpha1.Node:
		return 5
	case *v1alpha1.Namespace:
		return 6
	}
	return 2
}
