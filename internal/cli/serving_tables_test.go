package cli

import (
	"encoding/json"
	"testing"
	"time"

	"skiff.dev/skiff/api/v1alpha1"
)

func TestInferenceServiceTableListsRevisions(t *testing.T) {
	svc := &v1alpha1.InferenceService{Spec: v1alpha1.InferenceServiceSpec{Models: []string{"m"}}}
	svc.Name = "chat"
	svc.Status.Revisions = []v1alpha1.ServingRevision{
		{Name: "chat-aaaa", TemplateHash: "aaaa", TrafficPercent: 80},
		{Name: "chat-bbbb", TemplateHash: "bbbb", TrafficPercent: 20, Canary: true},
	}
	raw, err := json.Marshal(svc)
	if err != nil {
		t.Fatal(err)
	}
	_, _, wide, err := tables["InferenceService"].row(raw, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if got := wide[len(wide)-1]; got != "aaaa 80%,bbbb 20% canary" {
		t.Errorf("REVISIONS cell %q", got)
	}
	svc.Status.Revisions = nil
	raw, _ = json.Marshal(svc)
	if _, _, wide, _ = tables["InferenceService"].row(raw, time.Now()); wide[len(wide)-1] != "<none>" {
		t.Errorf("no revisions: %q", wide[len(wide)-1])
	}
}
