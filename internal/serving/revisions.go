package serving

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"

	"skiff.dev/skiff/api/v1alpha1"
)

// LabelCanary marks the replica jobs of a canary revision ("true"). They
// are named <service>-canary<index>, beside the rolled-out revision's
// <service>-<index>, so both revisions can run the same indexes.
const LabelCanary = "skiff.dev/canary"

// revision is what one revision's replicas run.
type revision struct {
	hash     string
	template v1alpha1.ReplicaTemplate
	queue    string
	priority *int32
}

// currentRevision is the revision the spec asks for now.
func currentRevision(svc *v1alpha1.InferenceService) revision {
	return revision{hash: templateHash(svc), template: svc.Spec.Template, queue: svc.Spec.Queue, priority: svc.Spec.Priority}
}

// hashRevision names what a replica runs: its template, queue and priority
// (changing any of them makes a new revision).
func hashRevision(t v1alpha1.ReplicaTemplate, queue string, priority *int32) string {
	b, _ := json.Marshal(struct {
		T v1alpha1.ReplicaTemplate
		Q string
		P *int32
	}{t, queue, priority})
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:8])
}

// templateHash is the hash of the revision svc's spec asks for.
func templateHash(svc *v1alpha1.InferenceService) string {
	return hashRevision(svc.Spec.Template, svc.Spec.Queue, svc.Spec.Priority)
}

// slotPlan is how many replicas of which revision one slot (the rolled-out
// replicas <service>-<i>, or the canary's <service>-canary<i>) should run.
type slotPlan struct {
	rev     revision
	desired int
}

// revisionPlan is the controller's decision for a service's revisions.
type revisionPlan struct {
	stable, canary slotPlan
	// canaryActive: two revisions share the traffic by weights.
	canaryActive bool
	// weights maps a template hash to its traffic percent; empty when
	// the service runs a single revision with no split (replicas being
	// replaced in a plain rollout all take requests).
	weights map[string]int
	// rolledOut is what status.rolledOut should hold.
	rolledOut *v1alpha1.RolledOutRevision
}

// planInput is what planRevisions decides from.
type planInput struct {
	current   revision
	rolledOut *v1alpha1.RolledOutRevision
	// canaryPercent is spec.canaryTrafficPercent (nil: unset).
	canaryPercent *int32
	// desired is the autoscaler's replica count for the whole service.
	desired int
	// canaryKept counts the canary slot's live replicas of the current
	// revision, and stableSettled says whether the rolled-out slot runs
	// the current revision on every index with each replica ready: after
	// a promotion the canary's replicas keep serving until then.
	canaryKept    int
	stableSettled bool
}

// planRevisions splits a service's replicas and traffic between its
// rolled-out revision and a canary, KServe's canaryTrafficPercent way: a
// template change while the percent is set below 100 starts a canary that
// gets that percent; 100 or no percent rolls the template out.
//
// Each revision's replicas follow its traffic share of the autoscaler's
// count, rounded up, and each runs at least one replica while the service
// runs any (a 0% canary can still be tried), so a canary may run one
// replica more than maxReplicas.
func planRevisions(in planInput) revisionPlan {
	cur := in.current
	curOut := &v1alpha1.RolledOutRevision{TemplateHash: cur.hash, Template: *cur.template.DeepCopy(), Queue: cur.queue, Priority: cur.priority}
	ro := in.rolledOut
	active := ro != nil && ro.TemplateHash != cur.hash && in.canaryPercent != nil && *in.canaryPercent < 100
	if !active {
		p := revisionPlan{stable: slotPlan{rev: cur, desired: in.desired}, rolledOut: curOut}
		if in.canaryKept > 0 && !in.stableSettled {
			// Promotion: the canary's replicas carry the new revision
			// until the rolled-out slot runs it everywhere; the old
			// revision gets no new requests meanwhile.
			p.canary = slotPlan{rev: cur, desired: in.canaryKept}
			p.weights = map[string]int{cur.hash: 100}
		}
		return p
	}
	pct := int(*in.canaryPercent)
	share := func(pct int) int {
		if in.desired == 0 {
			return 0
		}
		return max(1, (in.desired*pct+99)/100)
	}
	stable := revision{hash: ro.TemplateHash, template: ro.Template, queue: ro.Queue, priority: ro.Priority}
	return revisionPlan{
		stable:       slotPlan{rev: stable, desired: share(100 - pct)},
		canary:       slotPlan{rev: cur, desired: share(pct)},
		canaryActive: true,
		weights:      map[string]int{stable.hash: 100 - pct, cur.hash: pct},
		rolledOut:    ro,
	}
}

// replicaName is the job name of a slot's replica.
func replicaName(service string, canary bool, index int) string {
	if canary {
		return fmt.Sprintf("%s-canary%d", service, index)
	}
	return fmt.Sprintf("%s-%d", service, index)
}

// revisionName is how status names a revision.
func revisionName(service, hash string) string { return service + "-" + hash }
