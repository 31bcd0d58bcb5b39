package cli

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/duration"
)

// Rows are decoded from each object's JSON into the small structs below,
// never into the full types: decoding only the printed fields is what
// keeps `get -A` over 100,000 objects fast.

type rowMeta struct {
	Name              string      `json:"name"`
	Namespace         string      `json:"namespace"`
	CreationTimestamp metav1.Time `json:"creationTimestamp"`
}

// table describes how one kind prints.
type table struct {
	headers []string
	wide    []string
	// row decodes one object with decode and returns its metadata and
	// cells (normal, then wide).
	row func(decode func(any) error, now time.Time) (rowMeta, []string, []string, error)
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

var tables = map[string]table{
	"Job": {
		headers: []string{"NAME", "QUEUE", "PHASE", "RESTARTS", "AGE"},
		wide:    []string{"PRIORITY", "REPLICAS", "NODE"},
		row: func(decode func(any) error, now time.Time) (rowMeta, []string, []string, error) {
			var o struct {
				Metadata rowMeta `json:"metadata"`
				Spec     struct {
					Queue         string `json:"queue"`
					Priority      int32  `json:"priority"`
					ReplicaGroups []struct {
						Replicas int32 `json:"replicas"`
					} `json:"replicaGroups"`
				} `json:"spec"`
				Status struct {
					Phase     string `json:"phase"`
					Restarts  int32  `json:"restarts"`
					Admission *struct {
						Placements []struct {
							Node string `json:"node"`
						} `json:"placements"`
					} `json:"admission"`
				} `json:"status"`
			}
			if err := decode(&o); err != nil {
				return rowMeta{}, nil, nil, err
			}
			var replicas int32
			for _, g := range o.Spec.ReplicaGroups {
				replicas += g.Replicas
			}
			var nodes []string
			if o.Status.Admission != nil {
				seen := map[string]bool{}
				for _, p := range o.Status.Admission.Placements {
					if p.Node != "" && !seen[p.Node] {
						seen[p.Node] = true
						nodes = append(nodes, p.Node)
					}
				}
			}
			return o.Metadata,
				[]string{o.Metadata.Name, orNone(o.Spec.Queue), orNone(o.Status.Phase), strconv.Itoa(int(o.Status.Restarts)), age(now, o.Metadata.CreationTimestamp)},
				[]string{strconv.Itoa(int(o.Spec.Priority)), strconv.Itoa(int(replicas)), orNone(strings.Join(nodes, ","))},
				nil
		},
	},
	"Queue": {
		headers: []string{"NAME", "COHORT", "PENDING", "ADMITTED", "AGE"},
		wide:    []string{"STRATEGY", "FLAVORS"},
		row: func(decode func(any) error, now time.Time) (rowMeta, []string, []string, error) {
			var o struct {
				Metadata rowMeta `json:"metadata"`
				Spec     struct {
					Cohort           string `json:"cohort"`
					QueueingStrategy string `json:"queueingStrategy"`
					Flavors          []struct {
						Name string `json:"name"`
					} `json:"flavors"`
				} `json:"spec"`
				Status struct {
					PendingJobs  int32 `json:"pendingJobs"`
					AdmittedJobs int32 `json:"admittedJobs"`
				} `json:"status"`
			}
			if err := decode(&o); err != nil {
				return rowMeta{}, nil, nil, err
			}
			var flavors []string
			for _, f := range o.Spec.Flavors {
				flavors = append(flavors, f.Name)
			}
			return o.Metadata,
				[]string{o.Metadata.Name, orNone(o.Spec.Cohort), strconv.Itoa(int(o.Status.PendingJobs)), strconv.Itoa(int(o.Status.AdmittedJobs)), age(now, o.Metadata.CreationTimestamp)},
				[]string{orNone(o.Spec.QueueingStrategy), orNone(strings.Join(flavors, ","))},
				nil
		},
	},
	"Flavor": {
		headers: []string{"NAME", "GPU MODEL", "NODE LABELS", "AGE"},
		wide:    []string{"TOPOLOGY"},
		row: func(decode func(any) error, now time.Time) (rowMeta, []string, []string, error) {
			var o struct {
				Metadata rowMeta `json:"metadata"`
				Spec     struct {
					NodeLabels     map[string]string `json:"nodeLabels"`
					GPUModel       string            `json:"gpuModel"`
					TopologyLevels []string          `json:"topologyLevels"`
				} `json:"spec"`
			}
			if err := decode(&o); err != nil {
				return rowMeta{}, nil, nil, err
			}
			return o.Metadata,
				[]string{o.Metadata.Name, orNone(o.Spec.GPUModel), orNone(formatLabels(o.Spec.NodeLabels)), age(now, o.Metadata.CreationTimestamp)},
				[]string{orNone(strings.Join(o.Spec.TopologyLevels, ","))},
				nil
		},
	},
	"Node": {
		headers: []string{"NAME", "CPU", "MEMORY", "GPU", "MODEL"},
		wide:    []string{"SCHEDULABLE", "AGE"},
		row: func(decode func(any) error, now time.Time) (rowMeta, []string, []string, error) {
			var o struct {
				Metadata rowMeta `json:"metadata"`
				Spec     struct {
					Capacity struct {
						CPU    string `json:"cpu"`
						Memory string `json:"memory"`
						GPU    string `json:"gpu"`
					} `json:"capacity"`
					GPUModel      string `json:"gpuModel"`
					Unschedulable bool   `json:"unschedulable"`
				} `json:"spec"`
			}
			if err := decode(&o); err != nil {
				return rowMeta{}, nil, nil, err
			}
			c := o.Spec.Capacity
			gpu := c.GPU
			if gpu == "" {
				gpu = "0"
			}
			return o.Metadata,
				[]string{o.Metadata.Name, orNone(c.CPU), orNone(c.Memory), gpu, orNone(o.Spec.GPUModel)},
				[]string{strconv.FormatBool(!o.Spec.Unschedulable), age(now, o.Metadata.CreationTimestamp)},
				nil
		},
	},
	"Event": {
		headers: []string{"LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"},
		wide:    []string{"SOURCE", "COUNT", "NAME"},
		row: func(decode func(any) error, now time.Time) (rowMeta, []string, []string, error) {
			var o eventRow
			if err := decode(&o); err != nil {
				return rowMeta{}, nil, nil, err
			}
			return o.Metadata,
				[]string{age(now, o.lastSeen()), o.Type, o.Reason, o.object(), oneLine(o.Message)},
				[]string{orNone(o.Source), strconv.Itoa(int(o.Count)), o.Metadata.Name},
				nil
		},
	},
}

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
