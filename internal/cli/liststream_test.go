package cli

import (
	"encoding/json"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/google/go-cmp/cmp"
)

const trickyList = `{"kind":"JobList","items":[
 {"metadata":{"name":"a\"}]{[","namespace":"x"},"spec":{"replicaGroups":[{"replicas":2,"template":{"command":["}"]}},{"replicas":3}]}},
 {"metadata":{"name":"b\\","labels":{"k":"v"}},"status":{"admission":{"placements":[{"node":"n1"},{"node":"n2"},{"node":"n1"}]}}},
 {}
],"apiVersion":"skiff.dev/v1alpha1","metadata":{"resourceVersion":"42"}}`

func TestScanListMatchesEncodingJSON(t *testing.T) {
	var want struct {
		Items []json.RawMessage `json:"items"`
	}
	if err := json.Unmarshal([]byte(trickyList), &want); err != nil {
		t.Fatal(err)
	}
	// One byte per Read exercises every buffer boundary.
	var got []string
	rv, err := scanList(iotest.OneByteReader(strings.NewReader(trickyList)), func(raw []byte) error {
		got = append(got, string(raw))
		return nil
	})
	if err != nil || rv != "42" {
		t.Fatalf("rv %q err %v", rv, err)
	}
	var wantStrs []string
	for _, r := range want.Items {
		wantStrs = append(wantStrs, string(r))
	}
	if diff := cmp.Diff(wantStrs, got); diff != "" {
		t.Errorf("items (-want +got):\n%s", diff)
	}
	if _, err := scanList(strings.NewReader(trickyList[:100]), func([]byte) error { return nil }); err == nil {
		t.Error("truncated list: no error")
	}
}

func TestPluck(t *testing.T) {
	fs := newFieldSet("metadata.name", "metadata.namespace", "spec.replicaGroups.replicas", "status.admission.placements.node", "metadata.labels")
	var items []json.RawMessage
	_, err := scanList(strings.NewReader(trickyList), func(raw []byte) error {
		items = append(items, append(json.RawMessage(nil), raw...))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	type row struct {
		Name, NS string
		Replicas int64
		Nodes    []string
		Labels   map[string]string
	}
	var got []row
	for _, it := range items {
		v, err := fs.pluck(it)
		if err != nil {
			t.Fatal(err)
		}
		r := row{Name: v.str("metadata.name"), NS: v.str("metadata.namespace"), Replicas: v.sum("spec.replicaGroups.replicas"), Nodes: v.strs("status.admission.placements.node")}
		v.into("metadata.labels", &r.Labels)
		got = append(got, r)
	}
	want := []row{
		{Name: `a"}]{[`, NS: "x", Replicas: 5},
		{Name: `b\`, Nodes: []string{"n1", "n2"}, Labels: map[string]string{"k": "v"}},
		{},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("plucked (-want +got):\n%s", diff)
	}
	if _, err := fs.pluck([]byte(`{"metadata":{"name":"x"`)); err == nil {
		t.Error("truncated object: no error")
	}
}

func FuzzPluck(f *testing.F) {
	f.Add([]byte(trickyList))
	f.Add([]byte(`{"metadata":{"name":"a"}}`))
	fs := newFieldSet("metadata.name", "items.metadata.name", "spec.replicaGroups.replicas")
	f.Fuzz(func(t *testing.T, data []byte) {
		// Must not panic or loop on any input.
		_, _ = fs.pluck(data)
		_, _ = scanList(strings.NewReader(string(data)), func([]byte) error { return nil })
	})
}
