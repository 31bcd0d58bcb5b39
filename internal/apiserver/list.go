package apiserver

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
	"sigs.k8s.io/yaml"

	"skiff.dev/skiff/api/v1alpha1"
	"skiff.dev/skiff/internal/store"
)

// selectableFields are the field selectors each kind supports beyond
// metadata.name and metadata.namespace, as in Kubernetes where only
// chosen fields are selectable.
var selectableFields = map[string][]string{
	"Job":   {"spec.queue", "status.phase"},
	"Queue": {"spec.cohort"},
	"Node":  {"spec.unschedulable"},
	"Token": {"spec.namespace", "spec.user"},
	"Event": {"involvedObject.kind", "involvedObject.name", "involvedObject.namespace", "involvedObject.uid", "reason", "type", "source"},
}

// fieldFilter is the part of a field selector the store cannot evaluate;
// it is applied to each object's JSON.
type fieldFilter []fieldReq

type fieldReq struct {
	path  []string
	value string
	not   bool
}

// listOptions parses labelSelector and fieldSelector. metadata.name=x goes
// to the store (which can use its index); everything else is filtered here.
func listOptions(r *http.Request, t target) (store.ListOptions, fieldFilter, error) {
	q := r.URL.Query()
	opts := store.ListOptions{Namespace: t.namespace, ResourceVersion: q.Get("resourceVersion")}
	if ls := q.Get("labelSelector"); ls != "" {
		sel, err := labels.Parse(ls)
		if err != nil {
			return opts, nil, apierrors.NewBadRequest(fmt.Sprintf("labelSelector %q: %v: write key=value, key!=value, key in (a,b) or key, separated by commas", ls, err))
		}
		opts.LabelSelector = sel
	}
	fs := q.Get("fieldSelector")
	if fs == "" {
		return opts, t.scope, nil
	}
	sel, err := fields.ParseSelector(fs)
	if err != nil {
		return opts, nil, apierrors.NewBadRequest(fmt.Sprintf("fieldSelector %q: %v: write field=value or field!=value, separated by commas", fs, err))
	}
	allowed := append([]string{"metadata.name", "metadata.namespace"}, selectableFields[t.kind.Kind]...)
	var filter fieldFilter
	for _, req := range sel.Requirements() {
		if !contains(allowed, req.Field) {
			sort.Strings(allowed)
			return opts, nil, apierrors.NewBadRequest(fmt.Sprintf("fieldSelector: %q is not a selectable field of %s: use one of %s",
				req.Field, t.kind.Plural, strings.Join(allowed, ", ")))
		}
		not := req.Operator == selection.NotEquals
		switch {
		case req.Field == "metadata.name" && !not && opts.FieldName == "":
			opts.FieldName = req.Value
			continue
		case req.Field == "metadata.namespace" && !not && t.kind.Namespaced && !t.inNamespace && opts.Namespace == "":
			opts.Namespace = req.Value
			continue
		}
		filter = append(filter, fieldReq{path: strings.Split(req.Field, "."), value: req.Value, not: not})
	}
	return opts, append(filter, t.scope...), nil
}

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}

// matchJSON evaluates the filter on an object's JSON. Missing fields read
// as "" (so involvedObject.namespace= selects cluster-scoped objects), as
// in Kubernetes.
func (f fieldFilter) matchJSON(raw []byte) (bool, error) {
	if len(f) == 0 {
		return true, nil
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		return false, fmt.Errorf("decoding a stored object for the field selector: %w", err)
	}
	for _, req := range f {
		if (lookup(m, req.path) == req.value) == req.not {
			return false, nil
		}
	}
	return true, nil
}

func lookup(m map[string]any, path []string) string {
	var v any = m
	for _, p := range path {
		mm, ok := v.(map[string]any)
		if !ok {
			return ""
		}
		v = mm[p]
	}
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	default:
		return fmt.Sprint(v)
	}
}

// list streams the collection from Store.ListRaw. The list's
// resourceVersion is known only when the listing is done, so "metadata"
// comes after "items" — JSON object members are unordered.
func (s *Server) list(w http.ResponseWriter, r *http.Request, t target) {
	opts, filter, err := listOptions(r, t)
	if err != nil {
		writeError(w, err)
		return
	}
	opts.ResourceVersion = "" // a list always reads the newest state
	cw := &commitWriter{w: w}
	bw := bufio.NewWriterSize(cw, 64<<10)
	var enc listEncoder = &jsonList{w: bw, kind: t.kind.Kind}
	ct := "application/json"
	if wantsYAML(r) {
		enc, ct = &yamlList{w: bw, kind: t.kind.Kind}, "application/yaml"
	}
	w.Header().Set("Content-Type", ct)
	rev, err := s.cfg.Store.ListRaw(r.Context(), t.kind, opts, func(raw []byte) error {
		if ok, err := filter.matchJSON(raw); err != nil || !ok {
			return err
		}
		return enc.item(raw)
	})
	if err == nil {
		err = enc.end(rev)
	}
	if err == nil {
		err = bw.Flush()
	}
	if err == nil {
		return
	}
	if !cw.committed {
		// Nothing reached the client yet: a proper error is still possible.
		writeError(w, err)
		return
	}
	// Part of the list is out. Abort the connection so the client sees a
	// truncated body and an error rather than a list that looks complete.
	panic(http.ErrAbortHandler)
}

// commitWriter records whether any byte reached the response.
type commitWriter struct {
	w         io.Writer
	committed bool
}

func (c *commitWriter) Write(p []byte) (int, error) {
	c.committed = true
	return c.w.Write(p)
}

type listEncoder interface {
	item(raw []byte) error
	end(revision int64) error
}

type jsonList struct {
	w    *bufio.Writer
	kind string
	n    int
}

func (l *jsonList) item(raw []byte) error {
	if l.n == 0 {
		fmt.Fprintf(l.w, `{"kind":%q,"apiVersion":%q,"items":[`, l.kind+"List", v1alpha1.APIVersion)
	} else {
		l.w.WriteByte(',')
	}
	l.n++
	_, err := l.w.Write(bytes.TrimSpace(raw))
	return err
}

func (l *jsonList) end(rev int64) error {
	if l.n == 0 {
		fmt.Fprintf(l.w, `{"kind":%q,"apiVersion":%q,"items":[`, l.kind+"List", v1alpha1.APIVersion)
	}
	_, err := fmt.Fprintf(l.w, `],"metadata":{"resourceVersion":%q}}`+"\n", strconv.FormatInt(rev, 10))
	return err
}

// yamlList writes a list as YAML item by item, indenting each converted
// item under "items:".
type yamlList struct {
	w    *bufio.Writer
	kind string
	n    int
}

func (l *yamlList) item(raw []byte) error {
	y, err := yaml.JSONToYAML(raw)
	if err != nil {
		return fmt.Errorf("converting a stored object to YAML: %w", err)
	}
	if l.n == 0 {
		fmt.Fprintf(l.w, "apiVersion: %s\nkind: %sList\nitems:\n", v1alpha1.APIVersion, l.kind)
	}
	l.n++
	for i, line := range bytes.Split(bytes.TrimRight(y, "\n"), []byte("\n")) {
		if i == 0 {
			l.w.WriteString("- ")
		} else {
			l.w.WriteString("  ")
		}
		l.w.Write(line)
		l.w.WriteByte('\n')
	}
	return nil
}

func (l *yamlList) end(rev int64) error {
	if l.n == 0 {
		fmt.Fprintf(l.w, "apiVersion: %s\nkind: %sList\nitems: []\n", v1alpha1.APIVersion, l.kind)
	}
	_, err := fmt.Fprintf(l.w, "metadata:\n  resourceVersion: %q\n", strconv.FormatInt(rev, 10))
	return err
}
