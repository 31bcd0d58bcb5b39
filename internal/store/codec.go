package store

import (
	"bytes"
	crand "crypto/rand"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strconv"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"

	"skiff.dev/skiff/api/v1alpha1"
)

// envelope is the part of a stored object the store layer itself needs.
// Decoding only this is cheaper than decoding the typed object and works for
// every kind.
type envelope struct {
	Metadata metav1.ObjectMeta `json:"metadata"`
	Spec     json.RawMessage   `json:"spec,omitempty"`
}

func decodeEnvelope(raw []byte) (envelope, error) {
	var e envelope
	if err := json.Unmarshal(raw, &e); err != nil {
		return e, fmt.Errorf("decode stored object: %w", err)
	}
	return e, nil
}

// labelsOnly is decoded to evaluate a label selector against raw bytes.
type labelsOnly struct {
	Metadata struct {
		Labels map[string]string `json:"labels,omitempty"`
	} `json:"metadata"`
}

func matchesLabels(sel labels.Selector, raw []byte) (bool, error) {
	if sel == nil || sel.Empty() {
		return true, nil
	}
	var l labelsOnly
	if err := json.Unmarshal(raw, &l); err != nil {
		return false, fmt.Errorf("decode stored labels: %w", err)
	}
	return sel.Matches(labels.Set(l.Metadata.Labels)), nil
}

// encodeWithoutRV marshals obj with apiVersion/kind set and without a
// resourceVersion, so that spliceRV can add the revision the backend picks
// without marshalling again (and without touching obj, which may be in use
// by its caller by then).
func encodeWithoutRV(obj v1alpha1.Object) ([]byte, error) {
	rv := obj.GetResourceVersion()
	obj.SetResourceVersion("")
	v1alpha1.SetTypeMeta(obj)
	raw, err := json.Marshal(obj)
	obj.SetResourceVersion(rv)
	if err != nil {
		return nil, fmt.Errorf("encode %T: %w", obj, err)
	}
	return raw, nil
}

var metadataKey = []byte(`"metadata":{`)

// spliceRV inserts "resourceVersion":"<rev>" as the first field of the
// metadata object of raw, which was produced by encodeWithoutRV. The first
// occurrence of `"metadata":{` is the object's own metadata: it follows only
// the apiVersion and kind fields, and a quote inside a JSON string is always
// escaped, so the sequence cannot appear inside their values.
func spliceRV(raw []byte, rev int64) ([]byte, error) {
	i := bytes.Index(raw, metadataKey)
	if i < 0 {
		return nil, fmt.Errorf("encoded object has no metadata")
	}
	at := i + len(metadataKey)
	field := `"resourceVersion":"` + strconv.FormatInt(rev, 10) + `"`
	if at < len(raw) && raw[at] != '}' {
		field += ","
	}
	out := make([]byte, 0, len(raw)+len(field))
	out = append(out, raw[:at]...)
	out = append(out, field...)
	out = append(out, raw[at:]...)
	return out, nil
}

// decodeInto replaces *into with the object encoded in raw. Zeroing first
// matters: json.Unmarshal merges maps and keeps fields absent from raw.
func decodeInto(raw []byte, into runtime.Object) error {
	v := reflect.ValueOf(into)
	if v.Kind() != reflect.Pointer || v.IsNil() {
		return fmt.Errorf("decode into %T: need a non-nil pointer", into)
	}
	v.Elem().SetZero()
	if err := json.Unmarshal(raw, into); err != nil {
		return fmt.Errorf("decode into %T: %w", into, err)
	}
	return nil
}

// newUID returns a random (version 4) UUID.
func newUID() string {
	var b [16]byte
	_, _ = crand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	b[6] = (b[6] & 0x0f) | 0x40
	b[8] = (b[8] & 0x3f) | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// generateNameSuffix mimics Kubernetes' names.SimpleNameGenerator: five
// characters from an alphabet without vowels (no accidental words) and
// without look-alike characters.
func generateNameSuffix() string {
	const alphabet = "bcdfghjklmnpqrstvwxz2456789"
	b := make([]byte, 5)
	for i := range b {
		b[i] = alphabet[rand.IntN(len(alphabet))]
	}
	return string(b)
}

// kindOfList finds the kind whose list type into is.
func kindOfList(into v1alpha1.ObjectList) (v1alpha1.Kind, error) {
	t := reflect.TypeOf(into)
	for _, k := range v1alpha1.Kinds() {
		if reflect.TypeOf(k.NewList()) == t {
			return k, nil
		}
	}
	return v1alpha1.Kind{}, fmt.Errorf("type %T is not a skiff.dev/v1alpha1 list kind", into)
}

func ownerUIDs(refs []metav1.OwnerReference) []string {
	if len(refs) == 0 {
		return nil
	}
	out := make([]string, 0, len(refs))
	for _, r := range refs {
		if r.UID != "" {
			out = append(out, string(r.UID))
		}
	}
	return out
}

func formatRV(rev int64) string { return strconv.FormatInt(rev, 10) }
