package cli

import (
	"strconv"
	"strings"
	"time"
)

func init() {
	tables["InferenceService"] = table{
		headers: []string{"NAME", "MODELS", "READY", "MIN/MAX", "ROUTING", "AGE"},
		wide:    []string{"QUEUE", "TARGET", "LAST REQUEST", "REVISIONS"},
		fields: fields("spec.models", "spec.minReplicas", "spec.maxReplicas", "spec.routing", "spec.queue",
			"spec.autoscaling.targetInFlight", "status.readyReplicas", "status.desiredReplicas", "status.lastRequestTime",
			"status.revisions.templateHash", "status.revisions.trafficPercent"),
		cells: func(v values, now time.Time) ([]string, []string) {
			last := "<none>"
			if t := v.time("status.lastRequestTime"); !t.IsZero() {
				last = age(now, t) + " ago"
			}
			return []string{v.str("metadata.name"), orNone(strings.Join(v.strs("spec.models"), ",")),
					strconv.FormatInt(v.sum("status.readyReplicas"), 10) + "/" + strconv.FormatInt(v.sum("status.desiredReplicas"), 10),
					strconv.FormatInt(v.sum("spec.minReplicas"), 10) + "/" + strconv.FormatInt(v.sum("spec.maxReplicas"), 10),
					orNone(v.str("spec.routing")), created(v, now)},
				[]string{orNone(v.str("spec.queue")), strconv.FormatInt(v.sum("spec.autoscaling.targetInFlight"), 10), last, revisionsCell(v)}
		},
	}
}

// revisionsCell lists a service's revisions with their traffic percent,
// the rolled-out one first: "3f9a0c1d 80%,77b2e4a0 20% canary".
func revisionsCell(v values) string {
	hashes, pcts := v.all("status.revisions.templateHash"), v.all("status.revisions.trafficPercent")
	if len(hashes) != len(pcts) {
		return "<none>"
	}
	var parts []string
	for i := range hashes {
		p := unquote(hashes[i]) + " " + string(pcts[i]) + "%"
		if i > 0 {
			p += " canary"
		}
		parts = append(parts, p)
	}
	return orNone(strings.Join(parts, ","))
}
