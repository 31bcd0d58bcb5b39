package v1alpha1

import (
	"fmt"
	"math"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// MetricPoint is one value of a named metric of a job at a training step,
// as workloads report it (POST .../jobs/NAME/metrics, or a
// "skiff:metric NAME=VALUE step=N" line on stdout) and `skiff metrics
// job/NAME -o json` prints it.
//
// +kubebuilder:object:generate=false
type MetricPoint struct {
	Name  string  `json:"name"`
	Step  int64   `json:"step"`
	Value float64 `json:"value"`
	// Time is when the value was reported; the server fills it in when a
	// report leaves it out.
	Time time.Time `json:"time,omitzero"`
}

// MetricReport is the body of POST .../namespaces/NS/jobs/NAME/metrics.
//
// +kubebuilder:object:generate=false
type MetricReport struct {
	Points []MetricPoint `json:"points"`
}

// ProgressMetric is the metric name a workload reports its progress under,
// a fraction from 0 to 1.
const ProgressMetric = "progress"

// Limits on metric reports.
const (
	MaxMetricNameLength    = 64
	MaxMetricPointsPerPost = 1000
)

// ValidateMetricName checks a metric name: a letter or '_', then letters,
// digits, '_', '.', '/' or '-', at most MaxMetricNameLength characters.
func ValidateMetricName(name string) error {
	if name == "" {
		return fmt.Errorf("required: name the metric, e.g. loss")
	}
	ok := len(name) <= MaxMetricNameLength
	for i, r := range name {
		letter := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r == '_'
		ok = ok && (letter || i > 0 && (r >= '0' && r <= '9' || r == '.' || r == '/' || r == '-'))
	}
	if !ok {
		return fmt.Errorf("%q is not a metric name: use at most %d letters, digits, '_', '.', '/' or '-', starting with a letter or '_' (e.g. loss, val/accuracy)", name, MaxMetricNameLength)
	}
	return nil
}

// ValidateMetricPoint checks one point.
func ValidateMetricPoint(pt MetricPoint) error {
	if err := ValidateMetricName(pt.Name); err != nil {
		return err
	}
	if pt.Step < 0 {
		return fmt.Errorf("step %d is negative: use the training step, from 0", pt.Step)
	}
	if math.IsNaN(pt.Value) || math.IsInf(pt.Value, 0) {
		return fmt.Errorf("value of %s is not a finite number: report finite values only", pt.Name)
	}
	if pt.Name == ProgressMetric && (pt.Value < 0 || pt.Value > 1) {
		return fmt.Errorf("progress %g is out of range: report a fraction from 0 to 1", pt.Value)
	}
	return nil
}

// ValidateMetricReport checks a report; errors name points[i].
func ValidateMetricReport(r *MetricReport) field.ErrorList {
	var errs field.ErrorList
	p := field.NewPath("points")
	if len(r.Points) == 0 {
		errs = append(errs, detail(p, `required: send at least one point, e.g. {"points": [{"name": "loss", "step": 1, "value": 0.5}]}`))
	}
	if len(r.Points) > MaxMetricPointsPerPost {
		errs = append(errs, detail(p, fmt.Sprintf("%d points in one report: send at most %d per request", len(r.Points), MaxMetricPointsPerPost)))
		return errs
	}
	for i, pt := range r.Points {
		if err := ValidateMetricPoint(pt); err != nil {
			errs = append(errs, detail(p.Index(i), err.Error()))
		}
	}
	return errs
}

// JobNotice is what GET .../namespaces/NS/jobs/NAME/notice answers: whether
// the job's replicas are about to be stopped and why, so that a replica
// that got SIGTERM knows it will resume and should checkpoint.
//
// +kubebuilder:object:generate=false
type JobNotice struct {
	// Stop is true while the current attempt is being stopped by a
	// preemption, a suspend or an elastic resize; the job resumes when it is
	// admitted again.
	Stop bool `json:"stop"`
	// Reason is Preempted, Suspended or Resized (an elastic job restarted
	// at a larger size) when Stop is true.
	Reason  string       `json:"reason,omitempty"`
	Message string       `json:"message,omitempty"`
	Time    *metav1.Time `json:"time,omitempty"`
	// GraceSeconds is how long replicas get between SIGTERM and SIGKILL.
	GraceSeconds int64 `json:"graceSeconds"`
	// Attempt is the job's current attempt.
	Attempt int32 `json:"attempt"`
}
