package v1alpha1

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"sort"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// Decode reads one JSON or YAML document into the typed object its kind
// names. Decoding is strict: an unknown field, a value of the wrong type or
// a malformed quantity is an error that names the field path and the fix.
func Decode(data []byte) (Object, error) {
	js, err := yaml.YAMLToJSON(data)
	if err != nil {
		return nil, fmt.Errorf("malformed YAML: %s: fix the syntax (indentation, quoting) and try again", strings.TrimPrefix(err.Error(), "error converting YAML to JSON: yaml: "))
	}
	var doc map[string]any
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil || doc == nil {
		return nil, errors.New("the document is not an object: write a manifest with apiVersion, kind, metadata and spec")
	}
	kindName, _ := doc["kind"].(string)
	if kindName == "" {
		return nil, fmt.Errorf("kind: required: set kind to one of %s", strings.Join(manifestKinds(), ", "))
	}
	av, _ := doc["apiVersion"].(string)
	if av != APIVersion {
		return nil, fmt.Errorf("apiVersion: %q is not served: set apiVersion: %s", av, APIVersion)
	}
	k, ok := LookupKind(kindName)
	if !ok {
		return nil, fmt.Errorf("kind: unknown kind %q: set kind to one of %s", kindName, strings.Join(manifestKinds(), ", "))
	}
	if k.Kind != kindName {
		// A plural, singular, short or lowercase name of a real kind.
		return nil, fmt.Errorf("kind: %q is not a kind name: set kind: %s", kindName, k.Kind)
	}
	obj := k.New()
	var errs []string
	checkValue(reflect.TypeOf(obj).Elem(), doc, "", &errs)
	if k.Kind == "Job" {
		errs = append(errs, explicitZeroReplicas(doc)...)
	}
	if len(errs) > 0 {
		return nil, errors.New(strings.Join(errs, "; "))
	}
	if err := json.Unmarshal(js, obj); err != nil {
		return nil, fmt.Errorf("decoding %s: %w", k.Kind, err)
	}
	return obj, nil
}

// SplitYAML splits a stream of YAML (or JSON) documents separated by "---",
// dropping empty documents.
func SplitYAML(data []byte) ([][]byte, error) {
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	var docs [][]byte
	for {
		doc, err := r.Read()
		if err == io.EOF {
			return docs, nil
		}
		if err != nil {
			return nil, fmt.Errorf("malformed YAML stream: %w", err)
		}
		if len(bytes.TrimSpace(stripComments(doc))) == 0 {
			continue
		}
		docs = append(docs, doc)
	}
}

func stripComments(doc []byte) []byte {
	var out []byte
	for _, line := range bytes.Split(doc, []byte("\n")) {
		t := bytes.TrimSpace(line)
		if len(t) == 0 || t[0] == '#' {
			continue
		}
		out = append(out, line...)
		out = append(out, '\n')
	}
	return out
}

var (
	quantityType = reflect.TypeOf(resource.Quantity{})
	timeType     = reflect.TypeOf(metav1.Time{})
	rawExtType   = reflect.TypeOf(json.RawMessage{})
	durationType = reflect.TypeOf(metav1.Duration{})
)

// checkValue walks a generic JSON value against the Go type it will be
// decoded into and records every mismatch with its field path. It exists
// because encoding/json stops at the first error and names no path for
// errors raised by a field's own UnmarshalJSON (resource.Quantity).
func checkValue(t reflect.Type, v any, path string, errs *[]string) {
	if v == nil {
		return
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	at := path
	if at == "" {
		at = "(document)"
	}
	switch {
	case t == quantityType:
		s := fmt.Sprint(v)
		if _, ok := v.(json.Number); !ok {
			if _, ok := v.(string); !ok {
				*errs = append(*errs, fmt.Sprintf("%s: must be a quantity such as 1, 0.5, 500m or 64Mi", at))
				return
			}
		}
		if _, err := resource.ParseQuantity(s); err != nil {
			*errs = append(*errs, fmt.Sprintf("%s: %q is not a quantity: use a number such as 1, 0.5, 500m or 64Mi", at, s))
		}
		return
	case t == timeType:
		if _, ok := v.(string); !ok {
			*errs = append(*errs, fmt.Sprintf("%s: must be an RFC 3339 time string", at))
		}
		return
	case t == rawExtType:
		return
	case t == durationType:
		str, ok := v.(string)
		if _, err := time.ParseDuration(str); !ok || err != nil {
			*errs = append(*errs, fmt.Sprintf("%s: must be a duration such as 30m or 720h", at))
		}
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		m, ok := v.(map[string]any)
		if !ok {
			*errs = append(*errs, fmt.Sprintf("%s: must be an object", at))
			return
		}
		fields := map[string]reflect.Type{}
		collectFields(t, fields)
		keys := make([]string, 0, len(m))
		for key := range m {
			keys = append(keys, key)
		}
		sort.Strings(keys)
		for _, key := range keys {
			ft, ok := fields[key]
			if !ok {
				*errs = append(*errs, fmt.Sprintf("%s: unknown field: remove it or check its spelling", join(path, key)))
				continue
			}
			checkValue(ft, m[key], join(path, key), errs)
		}
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 { // []byte is a base64 string
			if _, ok := v.(string); !ok {
				*errs = append(*errs, fmt.Sprintf("%s: must be a base64 string", at))
			}
			return
		}
		list, ok := v.([]any)
		if !ok {
			*errs = append(*errs, fmt.Sprintf("%s: must be a list", at))
			return
		}
		for i, e := range list {
			checkValue(t.Elem(), e, fmt.Sprintf("%s[%d]", path, i), errs)
		}
	case reflect.Map:
		m, ok := v.(map[string]any)
		if !ok {
			*errs = append(*errs, fmt.Sprintf("%s: must be a map", at))
			return
		}
		for key, e := range m {
			checkValue(t.Elem(), e, join(path, key), errs)
		}
	case reflect.String:
		if _, ok := v.(string); !ok {
			*errs = append(*errs, fmt.Sprintf("%s: must be a string (quote it)", at))
		}
	case reflect.Bool:
		if _, ok := v.(bool); !ok {
			*errs = append(*errs, fmt.Sprintf("%s: must be true or false", at))
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		n, ok := v.(json.Number)
		if !ok {
			*errs = append(*errs, fmt.Sprintf("%s: must be a whole number", at))
			return
		}
		i, err := n.Int64()
		if err != nil {
			*errs = append(*errs, fmt.Sprintf("%s: %s is not a whole number", at, n))
			return
		}
		if t.Kind() <= reflect.Int64 && reflect.Zero(t).OverflowInt(i) {
			bits := t.Bits()
			*errs = append(*errs, fmt.Sprintf("%s: %d is out of range: use %d to %d", at, i, int64(-1)<<(bits-1), int64(1)<<(bits-1)-1))
		} else if t.Kind() >= reflect.Uint && (i < 0 || reflect.Zero(t).OverflowUint(uint64(i))) {
			*errs = append(*errs, fmt.Sprintf("%s: %d is out of range: use 0 to %d", at, i, uint64(1)<<t.Bits()-1))
		}
	case reflect.Float32, reflect.Float64:
		if _, ok := v.(json.Number); !ok {
			*errs = append(*errs, fmt.Sprintf("%s: must be a number", at))
		}
	}
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// collectFields maps JSON names to field types, flattening inline structs.
func collectFields(t reflect.Type, out map[string]reflect.Type) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("json")
		name, opts, _ := strings.Cut(tag, ",")
		if name == "-" {
			continue
		}
		if f.Anonymous && (name == "" || strings.Contains(opts, "inline")) {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			collectFields(ft, out)
			continue
		}
		if strings.Contains(opts, "inline") {
			collectFields(f.Type, out)
			continue
		}
		if name == "" {
			name = f.Name
		}
		out[name] = f.Type
	}
}

// explicitZeroReplicas reports replicas: 0 written out: defaulting turns an
// omitted count into 1, which must not silently happen to an explicit 0.
func explicitZeroReplicas(doc map[string]any) []string {
	spec, _ := doc["spec"].(map[string]any)
	groups, _ := spec["replicaGroups"].([]any)
	var errs []string
	for i, g := range groups {
		m, _ := g.(map[string]any)
		if n, ok := m["replicas"].(json.Number); ok && n.String() == "0" {
			errs = append(errs, fmt.Sprintf("spec.replicaGroups[%d].replicas: 0 is out of range: use 1 to 1024 (omit it for 1)", i))
		}
	}
	return errs
}

// manifestKinds are the values kind: may take, sorted.
func manifestKinds() []string {
	var names []string
	for _, k := range kinds {
		names = append(names, k.Kind)
	}
	sort.Strings(names)
	return names
}
