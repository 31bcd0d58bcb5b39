package cli

import (
	"strconv"
	"strings"
	"time"
)

func init() {
	tables["Namespace"] = table{
		headers: []string{"NAME", "GPUS", "RUNNING JOBS", "AGE"},
		fields:  fields("spec.limits.gpus", "spec.limits.runningJobs"),
		cells: func(v values, now time.Time) ([]string, []string) {
			jobs := "<none>"
			if v.str("spec.limits.runningJobs") != "" {
				jobs = strconv.FormatInt(v.sum("spec.limits.runningJobs"), 10)
			}
			return []string{v.str("metadata.name"), orNone(v.str("spec.limits.gpus")), jobs, created(v, now)}, nil
		},
	}
	tables["Token"] = table{
		headers: []string{"ID", "USER", "NAMESPACE", "ROLE", "EXPIRES", "AGE"},
		fields:  fields("spec.user", "spec.namespace", "spec.role", "spec.expiresAt"),
		cells: func(v values, now time.Time) ([]string, []string) {
			exp := "never"
			if t := v.time("spec.expiresAt"); !t.IsZero() {
				if t.Time.After(now) {
					exp = t.UTC().Format(time.RFC3339)
				} else {
					exp = "expired"
				}
			}
			return []string{v.str("metadata.name"), v.str("spec.user"), v.str("spec.namespace"), v.str("spec.role"), exp, created(v, now)}, nil
		},
	}
	tables["Policy"] = table{
		headers: []string{"NAME", "KINDS", "NAMESPACES", "RULES", "AGE"},
		fields:  fields("spec.match.kinds", "spec.match.namespaces", "spec.validate.expression", "spec.default.field"),
		cells: func(v values, now time.Time) ([]string, []string) {
			rules := len(v.strs("spec.validate.expression")) + len(v.strs("spec.default.field"))
			return []string{v.str("metadata.name"), orAll(strings.Join(v.strs("spec.match.kinds"), ",")),
				orAll(strings.Join(v.strs("spec.match.namespaces"), ",")), strconv.Itoa(rules), created(v, now)}, nil
		},
	}
}

func orAll(s string) string {
	if s == "" {
		return "*"
	}
	return s
}
