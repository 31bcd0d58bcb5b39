package scheduler_test

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"skiff.dev/skiff/api/v1alpha1"
	"skiff.dev/skiff/internal/scheduler"
)

var update = flag.Bool("update", false, "rewrite the golden output in testdata/*.txt")

// TestScenarios runs every testdata/*.txt scenario. A scenario is a list of
// directives, one per line (see testdata/README for the format); directives
// that print something are followed by "----" and the expected output up
// to the next blank line. -update rewrites the expected output.
func TestScenarios(t *testing.T) {
	files, err := filepath.Glob("testdata/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no scenarios: %v", err)
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".txt"), func(t *testing.T) { runScenario(t, f) })
	}
}

func runScenario(t *testing.T, path string) {
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	w := &world{now: t0, jobs: map[string]*v1alpha1.Job{}, nodes: map[string]*v1alpha1.Node{}, queues: map[string]*v1alpha1.Queue{}}
	var out strings.Builder
	for i := 0; i < len(lines); i++ {
		line := lines[i]
		out.WriteString(line + "\n")
		trimmed := strings.TrimSpace(line)
		if trimmed == "" || strings.HasPrefix(trimmed, "#") {
			continue
		}
		got, err := w.do(strings.Fields(trimmed))
		if err != nil {
			t.Fatalf("%s:%d: %s: %v", path, i+1, trimmed, err)
		}
		var want []string
		if i+1 < len(lines) && lines[i+1] == "----" {
			i += 2
			for ; i < len(lines) && lines[i] != ""; i++ {
				want = append(want, lines[i])
			}
			i-- // the blank line is copied by the loop
		}
		if got == "" && want == nil {
			continue
		}
		out.WriteString("----\n" + got)
		if !*update {
			if diff := cmp.Diff(strings.Join(want, "\n")+"\n", got); diff != "" {
				t.Errorf("%s:%d: %s (-want +got):\n%s", path, i+1, trimmed, diff)
			}
		}
	}
	if *update {
		if err := os.WriteFile(path, []byte(out.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// world is the cluster a scenario drives: what the committer and the
// controllers would do to the store, reduced to its effect on the snapshot.
type world struct {
	now     time.Time
	seq     int
	flavors []*v1alpha1.Flavor
	nodes   map[string]*v1alpha1.Node
	queues  map[string]*v1alpha1.Queue
	jobs    map[string]*v1alpha1.Job
}

func kv(args []string) map[string]string {
	m := map[string]string{}
	for _, a := range args {
		k, v, _ := strings.Cut(a, "=")
		if k == "group" {
			m[k] += v + " "
			continue
		}
		m[k] = v
	}
	return m
}

func labels(s string) map[string]string {
	if s == "" {
		return nil
	}
	m := map[string]string{}
	for _, p := range strings.Split(s, ",") {
		k, v, _ := strings.Cut(p, ":")
		m[k] = v
	}
	return m
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func (w *world) do(f []string) (string, error) {
	cmd, args := f[0], kv(f[1:])
	name := ""
	if len(f) > 1 {
		name = f[1]
	}
	switch cmd {
	case "finish", "stop", "feasible", "attained":
		if w.jobs[name] == nil {
			return "", fmt.Errorf("no job %q", name)
		}
	}
	switch cmd {
	case "flavor":
		fl := &v1alpha1.Flavor{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: v1alpha1.FlavorSpec{NodeLabels: labels(args["labels"]), GPUModel: args["gpuModel"]}}
		if l := args["levels"]; l != "" {
			fl.Spec.TopologyLevels = strings.Split(l, ",")
		}
		w.flavors = append(w.flavors, fl)
	case "node":
		n := &v1alpha1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels(args["labels"])}}
		n.Spec.Capacity = v1alpha1.Resources{CPU: q(or(args["cpu"], "64")), Memory: q(or(args["memory"], "512Gi")), GPU: q(or(args["gpu"], "8"))}
		if n.Labels == nil {
			n.Labels = map[string]string{}
		}
		n.Labels["kubernetes.io/hostname"] = name
		w.nodes[name] = n
	case "nodes": // nodes PREFIX COUNT [node args]: PREFIX1..PREFIXn
		c, _ := strconv.Atoi(f[2])
		for i := 1; i <= c; i++ {
			if _, err := w.do(append([]string{"node", fmt.Sprintf("%s%d", name, i)}, f[3:]...)); err != nil {
				return "", err
			}
		}
	case "fail-node":
		w.nodes[name].Spec.Unschedulable = true
	case "remove-node":
		delete(w.nodes, name)
	case "queue":
		qu := &v1alpha1.Queue{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: v1alpha1.QueueSpec{Cohort: args["cohort"], QueueingStrategy: args["strategy"]}}
		if args["namespaces"] != "" {
			qu.Spec.Namespaces = strings.Split(args["namespaces"], ",")
		}
		if args["weight"] != "" {
			qu.Spec.Weight = q(args["weight"])
		}
		if args["withinQueue"] != "" || args["reclaim"] != "" {
			qu.Spec.Preemption = &v1alpha1.QueuePreemption{WithinQueue: args["withinQueue"], ReclaimWithinCohort: args["reclaim"]}
		}
		if l := args["las"]; l != "" {
			qu.Spec.LeastAttainedService = &v1alpha1.LeastAttainedService{}
			for _, s := range strings.Split(l, ",") {
				v, err := strconv.ParseInt(s, 10, 64)
				if err != nil {
					return "", fmt.Errorf("las=%s: %w", l, err)
				}
				qu.Spec.LeastAttainedService.ThresholdsGPUSeconds = append(qu.Spec.LeastAttainedService.ThresholdsGPUSeconds, v)
			}
			qu.Spec.LeastAttainedService.Scope = args["lasScope"]
		}
		w.queues[name] = qu
	case "quota": // quota QUEUE FLAVOR gpu=NOMINAL[:BORROW[:LEND]] ...
		qu := w.queues[name]
		fq := v1alpha1.FlavorQuota{Name: f[2]}
		for _, r := range []string{"gpu", "cpu", "memory"} {
			v, ok := args[r]
			if !ok {
				continue
			}
			parts := strings.Split(v, ":")
			rq := v1alpha1.ResourceQuota{Name: r, NominalQuota: *q(parts[0])}
			if len(parts) > 1 && parts[1] != "" {
				rq.BorrowingLimit = q(parts[1])
			}
			if len(parts) > 2 && parts[2] != "" {
				rq.LendingLimit = q(parts[2])
			}
			fq.Resources = append(fq.Resources, rq)
		}
		qu.Spec.Flavors = append(qu.Spec.Flavors, fq)
	case "submit":
		return "", w.submit(name, args)
	case "tick":
		d, err := time.ParseDuration(name)
		if err != nil {
			return "", err
		}
		w.now = w.now.Add(d)
	case "finish":
		delete(w.jobs, name)
	case "stop": // a preempted job's replicas stopped: requeue it
		w.stop(w.jobs[name])
	case "stop-preempted":
		for _, j := range w.jobs {
			if j.Status.Preemption != nil {
				w.stop(j)
			}
		}
	case "attained":
		j := w.jobs[name]
		qu := w.queues[j.Spec.Queue]
		var las *v1alpha1.LeastAttainedService
		if qu != nil {
			las = qu.Spec.LeastAttainedService
		}
		a := scheduler.AttainedGPUSeconds(j, w.now)
		out := fmt.Sprintf("%g gpu-seconds, level %d", a, scheduler.AttainedLevel(las, a))
		if t, ok := scheduler.NextLevelChange(las, j, w.now); ok {
			out += fmt.Sprintf(", next level in %s", t.Sub(w.now))
		}
		return out + "\n", nil
	case "cycle":
		return w.cycle(args["apply"] != "false", args["usage"] != "false"), nil
	case "feasible":
		if err := scheduler.CheckFeasible(w.jobs[name], w.snapshot()); err != nil {
			return err.Error() + "\n", nil
		}
		return "ok\n", nil
	default:
		return "", fmt.Errorf("unknown directive %q", cmd)
	}
	return "", nil
}

func (w *world) submit(key string, args map[string]string) error {
	ns, name, ok := strings.Cut(key, "/")
	if !ok {
		ns, name = "default", key
	}
	w.seq++
	created := w.now.Add(time.Duration(w.seq) * time.Microsecond)
	j := &v1alpha1.Job{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, CreationTimestamp: metav1.NewTime(created)},
		Spec: v1alpha1.JobSpec{Queue: args["queue"], PlacementPolicy: args["policy"]}}
	if p := args["prio"]; p != "" {
		v, _ := strconv.Atoi(p)
		j.Spec.Priority = int32(v)
	}
	if s := args["est"]; s != "" {
		v, _ := strconv.ParseInt(s, 10, 64)
		j.Spec.RunPolicy.EstimatedSeconds = &v
	}
	if s := args["deadline"]; s != "" {
		v, _ := strconv.ParseInt(s, 10, 64)
		j.Spec.RunPolicy.ActiveDeadlineSeconds = &v
	}
	if args["required"] != "" || args["preferred"] != "" {
		j.Spec.Topology = &v1alpha1.TopologyRequest{Required: args["required"], Preferred: args["preferred"]}
	}
	groups := strings.Fields(or(args["group"], "worker:1:gpu=1"))
	for _, g := range groups { // NAME:REPLICAS[-MIN]:res=v,res=v
		parts := strings.SplitN(g, ":", 3)
		if len(parts) != 3 {
			return fmt.Errorf("group %q: want NAME:REPLICAS[-MIN]:gpu=1,cpu=1", g)
		}
		rg := v1alpha1.ReplicaGroup{Name: parts[0], Template: v1alpha1.ReplicaTemplate{Command: []string{"x"}}}
		reps, minStr, elastic := strings.Cut(parts[1], "-")
		n, _ := strconv.Atoi(reps)
		rg.Replicas = int32(n)
		if elastic {
			m, _ := strconv.Atoi(minStr)
			mm := int32(m)
			rg.MinReplicas = &mm
		}
		for _, r := range strings.Split(parts[2], ",") {
			k, v, _ := strings.Cut(r, "=")
			switch k {
			case "gpu":
				rg.Template.Resources.GPU = q(v)
			case "cpu":
				rg.Template.Resources.CPU = q(v)
			case "memory":
				rg.Template.Resources.Memory = q(v)
			}
		}
		j.Spec.ReplicaGroups = append(j.Spec.ReplicaGroups, rg)
	}
	if j.Spec.Queue == "" {
		return fmt.Errorf("submit %s: queue= is required", key)
	}
	w.jobs[key] = j
	return nil
}

// stop requeues a job as the controller does once its replicas stopped:
// what its admission received is added to its attained service.
func (w *world) stop(j *v1alpha1.Job) {
	attained := j.Status.AttainedGPUSeconds + int64(scheduler.HeldGPUSeconds(j, w.now))
	j.Status = v1alpha1.JobStatus{Phase: v1alpha1.JobPending, Preemptions: j.Status.Preemptions + 1, AttainedGPUSeconds: attained}
}

func (w *world) snapshot() scheduler.Snapshot {
	snap := scheduler.Snapshot{Flavors: w.flavors}
	snap.Nodes = append(snap.Nodes, sortedValues(w.nodes)...)
	snap.Queues = append(snap.Queues, sortedValues(w.queues)...)
	for _, j := range sortedValues(w.jobs) {
		if scheduler.HoldsResources(j) {
			snap.Admitted = append(snap.Admitted, j)
		}
	}
	return snap
}

func sortedValues[T any](m map[string]T) []T {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]T, len(keys))
	for i, k := range keys {
		out[i] = m[k]
	}
	return out
}

// cycle runs the core once, prints the plan and applies it as the
// committer would: admitted jobs start now, victims get a preemption notice.
func (w *world) cycle(apply, usage bool) string {
	snap := w.snapshot()
	var pending []*v1alpha1.Job
	for _, j := range sortedValues(w.jobs) {
		if j.Status.Admission == nil {
			pending = append(pending, j)
		}
	}
	plan := scheduler.Schedule(snap, pending, w.now)
	var b strings.Builder
	for _, a := range plan.Admissions {
		fmt.Fprintf(&b, "admit %s/%s queue=%s flavor=%s:", a.Namespace, a.Name, a.Admission.Queue, a.Admission.Flavor)
		for _, p := range a.Admission.Placements {
			gpus := make([]string, len(p.GPUs))
			for i, g := range p.GPUs {
				gpus[i] = strconv.Itoa(int(g))
			}
			fmt.Fprintf(&b, " %s-%d@%s", p.Group, p.Index, p.Node)
			if len(gpus) > 0 {
				fmt.Fprintf(&b, "[%s]", strings.Join(gpus, ","))
			}
			if p.GPUMilli > 0 {
				fmt.Fprintf(&b, "%dm", p.GPUMilli)
			}
		}
		b.WriteString("\n")
		if apply {
			j := w.jobs[a.Namespace+"/"+a.Name]
			adm := a.Admission
			at := metav1.NewTime(w.now)
			adm.Time = &at
			j.Status.Admission = &adm
			j.Status.Phase = v1alpha1.JobRunning
			j.Status.NominatedFlavor = ""
			start := metav1.NewTime(w.now)
			j.Status.StartTime = &start
		}
	}
	for _, p := range plan.Preemptions {
		fmt.Fprintf(&b, "preempt %s/%s reason=%s by=%s: %s\n", p.Namespace, p.Name, p.Reason, p.By, p.Message)
		if apply {
			w.jobs[p.Namespace+"/"+p.Name].Status.Preemption = &v1alpha1.PreemptionNotice{Reason: p.Reason, By: p.By, Message: p.Message, Time: metav1.NewTime(w.now)}
		}
	}
	// The committer nominates each preemptor to the flavor it makes room in.
	nominated := plan.Nominations()
	for _, k := range sortedKeys(nominated) {
		if j := w.jobs[k]; j != nil && j.Status.NominatedFlavor != nominated[k] {
			fmt.Fprintf(&b, "nominate %s flavor=%s\n", k, nominated[k])
			if apply {
				// A changed pending job is a new object, as informers
				// hand them out (a Scheduler keeps what it read from each).
				j = j.DeepCopy()
				j.Status.NominatedFlavor = nominated[k]
				w.jobs[k] = j
			}
		}
	}
	keys := make([]string, 0, len(plan.Waiting))
	for k := range plan.Waiting {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "wait %s: %s\n", k, plan.Waiting[k])
	}
	if usage {
		for _, qn := range sortedKeys(plan.Usage) {
			for _, fl := range sortedKeys(plan.Usage[qn]) {
				fmt.Fprintf(&b, "usage %s/%s: %s", qn, fl, nonzero(plan.Usage[qn][fl]))
				if br, ok := plan.Borrowed[qn][fl]; ok {
					fmt.Fprintf(&b, " (borrowed %s)", nonzero(br))
				}
				b.WriteString("\n")
			}
		}
	}
	if b.Len() == 0 {
		return "nothing to do\n"
	}
	return b.String()
}

func sortedKeys[T any](m map[string]T) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func nonzero(a scheduler.Amounts) string {
	var parts []string
	for _, r := range []string{"gpu", "cpu", "memory"} {
		if a.Get(r) != 0 {
			parts = append(parts, r+"="+a.Format(r))
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, " ")
}
