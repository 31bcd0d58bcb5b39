package apiserver

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"skiff.dev/skiff/api/v1alpha1"
	"skiff.dev/skiff/internal/auth"
)

// MetricStore keeps jobs' metric time series. store.Metrics implements it.
type MetricStore interface {
	Append(ctx context.Context, namespace, job string, points []v1alpha1.MetricPoint) error
	Series(ctx context.Context, namespace, job, name string) ([]v1alpha1.MetricPoint, error)
	Latest(ctx context.Context, namespace, job string) ([]v1alpha1.MetricPoint, error)
}

// progressJob reads the job a metrics or notice request names. A job token
// must belong to this very job (its uid), not to an earlier job of the
// same name.
func (s *Server) progressJob(r *http.Request, t target) (*v1alpha1.Job, error) {
	job := &v1alpha1.Job{}
	if err := s.cfg.Store.Get(r.Context(), t.namespace, t.name, job); err != nil {
		return nil, err
	}
	if id, _ := auth.IdentityFrom(r.Context()); id.Job != "" && id.JobUID != string(job.UID) {
		infoFrom(r.Context()).denied = true
		return nil, apierrors.NewForbidden(t.kind.GroupResource(), t.name,
			errors.New("this token belongs to an earlier job of that name, which was deleted"))
	}
	return job, nil
}

// serveMetrics answers GET (the job's points, ?name=NAME for one metric,
// ?latest=true for the newest point of each) and POST (a MetricReport).
func (s *Server) serveMetrics(w http.ResponseWriter, r *http.Request, t target) {
	if s.cfg.Metrics == nil {
		writeError(w, apierrors.NewServiceUnavailable("metrics are not available on this server"))
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		writeError(w, methodNotAllowed(r.Method, r.URL.Path))
		return
	}
	job, err := s.progressJob(r, t)
	if err != nil {
		writeError(w, err)
		return
	}
	ctx := r.Context()
	if r.Method == http.MethodGet {
		q := r.URL.Query()
		var pts []v1alpha1.MetricPoint
		if isTrue(q.Get("latest")) {
			pts, err = s.cfg.Metrics.Latest(ctx, job.Namespace, job.Name)
			if name := q.Get("name"); err == nil && name != "" {
				kept := pts[:0]
				for _, p := range pts {
					if p.Name == name {
						kept = append(kept, p)
					}
				}
				pts = kept
			}
		} else {
			pts, err = s.cfg.Metrics.Series(ctx, job.Namespace, job.Name, q.Get("name"))
		}
		if err != nil {
			writeError(w, apierrors.NewInternalError(err))
			return
		}
		writeJSON(w, http.StatusOK, pts)
		return
	}
	body, err := s.readBody(w, r)
	if err != nil {
		writeError(w, err)
		return
	}
	var rep v1alpha1.MetricReport
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&rep); err != nil {
		writeError(w, apierrors.NewBadRequest(fmt.Sprintf(
			`the body is not a metric report (%v): send {"points": [{"name": "loss", "step": 1, "value": 0.5}]}`, err)))
		return
	}
	if errs := v1alpha1.ValidateMetricReport(&rep); len(errs) > 0 {
		writeError(w, invalid("MetricReport", job.Name, v1alpha1.NewValidationError("MetricReport", job.Name, errs)))
		return
	}
	now := s.cfg.Clock().UTC()
	for i := range rep.Points {
		if rep.Points[i].Time.IsZero() {
			rep.Points[i].Time = now
		}
		rep.Points[i].Time = rep.Points[i].Time.UTC()
	}
	if err := s.cfg.Metrics.Append(ctx, job.Namespace, job.Name, rep.Points); err != nil {
		writeError(w, apierrors.NewInternalError(err))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// serveNotice tells a job's replicas whether they are being stopped by a
// preemption or a suspend, and how long they have.
func (s *Server) serveNotice(w http.ResponseWriter, r *http.Request, t target) {
	job, err := s.progressJob(r, t)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, Notice(job, s.cfg.DefaultStopGrace))
}

// Notice is what a job's replicas are told about their future.
func Notice(job *v1alpha1.Job, defaultGrace time.Duration) v1alpha1.JobNotice {
	n := v1alpha1.JobNotice{Attempt: job.Status.Attempt, GraceSeconds: int64(defaultGrace / time.Second)}
	if g := job.Spec.RunPolicy.TerminationGracePeriodSeconds; g != nil {
		n.GraceSeconds = *g
	}
	switch {
	case isFinishedJob(job):
	case job.Status.Preemption != nil && job.Status.Preemption.Reason == v1alpha1.PreemptionResize:
		p := job.Status.Preemption
		n.Stop, n.Reason, n.Time = true, "Resized", p.Time.DeepCopy()
		n.Message = p.Message + ": checkpoint now; the job restarts at the larger size"
	case job.Status.Preemption != nil:
		p := job.Status.Preemption
		n.Stop, n.Reason, n.Time = true, "Preempted", p.Time.DeepCopy()
		n.Message = fmt.Sprintf("preempted (%s) for %s: checkpoint now; the job resumes when it is admitted again", p.Reason, p.By)
	case job.Spec.RunPolicy.Suspended() && job.Status.Phase != v1alpha1.JobSuspended:
		n.Stop, n.Reason = true, "Suspended"
		n.Message = "runPolicy.suspend is true: checkpoint now; the job resumes when it is unsuspended"
	}
	return n
}

func isFinishedJob(j *v1alpha1.Job) bool {
	return j.Status.Phase == v1alpha1.JobSucceeded || j.Status.Phase == v1alpha1.JobFailed
}
