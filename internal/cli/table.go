package cli

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/duration"

	"skiff.dev/skiff/api/v1alpha1"
)

type rowMeta struct {
	Name              string      `json:"name"`
	Namespace         string      `json:"namespace"`
	CreationTimestamp metav1.Time `json:"creationTimestamp"`
}

// table describes how one kind prints: the fields its rows read and how
// they become cells (normal, then the extra -o wide ones).
type table struct {
	headers []string
	wide    []string
	fields  *fieldSet
	cells   func(v values, now time.Time) (cells, wide []string)
}

// metaPaths are read for every kind (name, NAMESPACE column, AGE).
var metaPaths = []string{"metadata.name", "metadata.namespace", "metadata.creationTimestamp"}

func fields(paths ...string) *fieldSet { return newFieldSet(append(metaPaths, paths...)...) }

// row plucks one object's cells from its JSON.
func (t table) row(raw []byte, now time.Time) (namespace string, cells, wide []string, err error) {
	v, err := t.fields.pluck(raw)
	if err != nil {
		return "", nil, nil, err
	}
	cells, wide = t.cells(v, now)
	return v.str("metadata.namespace"), cells, wide, nil
}

func age(now time.Time, t metav1.Time) string {
	if t.IsZero() {
		return "<unknown>"
	}
	return duration.HumanDuration(now.Sub(t.Time))
}

func orNone(s string) string {
	if s == "" {
		return "<none>"
	}
	return s
}

func created(v values, now time.Time) string { return age(now, v.time("metadata.creationTimestamp")) }

var tables = map[string]table{
	"Job": {
		headers: []string{"NAME", "QUEUE", "PHASE", "RESTARTS", "AGE"},
		wide:    []string{"PRIORITY", "REPLICAS", "NODE"},
		fields: fields("spec.queue", "spec.priority", "spec.replicaGroups.replicas",
			"status.phase", "status.restarts", "status.admission.placements.node"),
		cells: func(v values, now time.Time) ([]string, []string) {
			return []string{v.str("metadata.name"), orNone(v.str("spec.queue")), orNone(v.str("status.phase")),
					strconv.FormatInt(v.sum("status.restarts"), 10), created(v, now)},
				// Replicas admitted of those asked for: an elastic job may
				// run below its full size.
				[]string{strconv.FormatInt(v.sum("spec.priority"), 10),
					strconv.Itoa(len(v.all("status.admission.placements.node"))) + "/" + strconv.FormatInt(v.sum("spec.replicaGroups.replicas"), 10),
					orNone(strings.Join(v.strs("status.admission.placements.node"), ","))}
		},
	},
	"Queue": {
		headers: []string{"NAME", "COHORT", "GPU USED/QUOTA", "BORROWED", "PENDING", "ADMITTED", "AGE"},
		wide:    []string{"STRATEGY", "FLAVORS", "CPU USED/QUOTA"},
		fields: fields("spec.cohort", "spec.queueingStrategy", "spec.flavors", "status.usage",
			"status.pendingJobs", "status.admittedJobs"),
		cells: func(v values, now time.Time) ([]string, []string) {
			var flavors []v1alpha1.FlavorQuota
			var usage []v1alpha1.FlavorUsage
			v.into("spec.flavors", &flavors)
			v.into("status.usage", &usage)
			names := make([]string, 0, len(flavors))
			for _, f := range flavors {
				names = append(names, f.Name)
			}
			return []string{v.str("metadata.name"), orNone(v.str("spec.cohort")),
					usedOfQuota(usage, flavors, v1alpha1.ResourceGPU), borrowed(usage),
					strconv.FormatInt(v.sum("status.pendingJobs"), 10), strconv.FormatInt(v.sum("status.admittedJobs"), 10), created(v, now)},
				[]string{orNone(v.str("spec.queueingStrategy")), orNone(strings.Join(names, ",")), usedOfQuota(usage, flavors, v1alpha1.ResourceCPU)}
		},
	},
	"Flavor": {
		headers: []string{"NAME", "GPU MODEL", "NODE LABELS", "AGE"},
		wide:    []string{"TOPOLOGY"},
		fields:  fields("spec.gpuModel", "spec.nodeLabels", "spec.topologyLevels"),
		cells: func(v values, now time.Time) ([]string, []string) {
			var labels map[string]string
			var levels []string
			v.into("spec.nodeLabels", &labels)
			v.into("spec.topologyLevels", &levels)
			return []string{v.str("metadata.name"), orNone(v.str("spec.gpuModel")), orNone(formatLabels(labels)), created(v, now)},
				[]string{orNone(strings.Join(levels, ","))}
		},
	},
	"Node": {
		headers: []string{"NAME", "CPU", "MEMORY", "GPU", "MODEL"},
		wide:    []string{"SCHEDULABLE", "AGE"},
		fields:  fields("spec.capacity.cpu", "spec.capacity.memory", "spec.capacity.gpu", "spec.gpuModel", "spec.unschedulable"),
		cells: func(v values, now time.Time) ([]string, []string) {
			gpu := v.str("spec.capacity.gpu")
			if gpu == "" {
				gpu = "0"
			}
			return []string{v.str("metadata.name"), orNone(v.str("spec.capacity.cpu")), orNone(v.str("spec.capacity.memory")), gpu, orNone(v.str("spec.gpuModel"))},
				[]string{strconv.FormatBool(!v.boolean("spec.unschedulable")), created(v, now)}
		},
	},
	"Event": {
		headers: []string{"LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"},
		wide:    []string{"SOURCE", "COUNT", "NAME"},
		fields: fields("involvedObject.kind", "involvedObject.name", "reason", "message", "type", "count", "source",
			"firstTimestamp", "lastTimestamp"),
		cells: func(v values, now time.Time) ([]string, []string) {
			e := eventRow{Reason: v.str("reason"), Message: v.str("message"), Type: v.str("type"), Source: v.str("source"),
				FirstTimestamp: v.time("firstTimestamp"), LastTimestamp: v.time("lastTimestamp")}
			e.Metadata.CreationTimestamp = v.time("metadata.creationTimestamp")
			e.InvolvedObject.Kind, e.InvolvedObject.Name = v.str("involvedObject.kind"), v.str("involvedObject.name")
			return []string{age(now, e.lastSeen()), e.Type, e.Reason, e.object(), oneLine(e.Message)},
				[]string{orNone(e.Source), strconv.FormatInt(v.sum("count"), 10), v.str("metadata.name")}
		},
	},
}

// eventRow is an Event as describe and the events table read it.
type eventRow struct {
	Metadata       rowMeta `json:"metadata"`
	InvolvedObject struct {
		Kind string `json:"kind"`
		Name string `json:"name"`
	} `json:"involvedObject"`
	Reason         string      `json:"reason"`
	Message        string      `json:"message"`
	Type           string      `json:"type"`
	Count          int32       `json:"count"`
	Source         string      `json:"source"`
	FirstTimestamp metav1.Time `json:"firstTimestamp"`
	LastTimestamp  metav1.Time `json:"lastTimestamp"`
}

func (e eventRow) lastSeen() metav1.Time {
	if !e.LastTimestamp.IsZero() {
		return e.LastTimestamp
	}
	if !e.FirstTimestamp.IsZero() {
		return e.FirstTimestamp
	}
	return e.Metadata.CreationTimestamp
}

func (e eventRow) object() string {
	return strings.ToLower(e.InvolvedObject.Kind) + "/" + e.InvolvedObject.Name
}

// oneLine keeps a table row on one line.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

func formatLabels(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, k+"="+m[k])
	}
	return strings.Join(parts, ",")
}

func tableFor(kind string) (table, error) {
	t, ok := tables[kind]
	if !ok {
		return t, fmt.Errorf("no table for kind %s: use -o yaml", kind)
	}
	return t, nil
}

// usedOfQuota sums one resource's usage and nominal quota over a queue's
// flavors, e.g. "12/16".
func usedOfQuota(usage []v1alpha1.FlavorUsage, flavors []v1alpha1.FlavorQuota, res string) string {
	var used, quota resource.Quantity
	for _, u := range usage {
		if q, ok := u.Resources[res]; ok {
			used.Add(q)
		}
	}
	for _, f := range flavors {
		for _, r := range f.Resources {
			if r.Name == res {
				quota.Add(r.NominalQuota)
			}
		}
	}
	return used.String() + "/" + quota.String()
}

// borrowed lists what a queue borrows from its cohort, e.g. "gpu=4".
func borrowed(usage []v1alpha1.FlavorUsage) string {
	totals := map[string]*resource.Quantity{}
	for _, u := range usage {
		for name, q := range u.Borrowed {
			if q.IsZero() {
				continue
			}
			if totals[name] == nil {
				totals[name] = &resource.Quantity{}
			}
			totals[name].Add(q)
		}
	}
	var parts []string
	for _, name := range []string{v1alpha1.ResourceGPU, v1alpha1.ResourceCPU, v1alpha1.ResourceMemory} {
		if q := totals[name]; q != nil {
			parts = append(parts, name+"="+q.String())
		}
	}
	return orNone(strings.Join(parts, ","))
}
