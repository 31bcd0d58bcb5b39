package v1alpha1

import (
	"fmt"
	"path"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"
)

// validateJobPolicies checks successPolicy, failurePolicy, checkpointDir and
// the runPolicy fields added with them.
func validateJobPolicies(s *JobSpec, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if sp := s.SuccessPolicy; sp != nil && sp.Group != "" {
		found := false
		for _, g := range s.ReplicaGroups {
			found = found || g.Name == sp.Group
		}
		if !found {
			errs = append(errs, detail(p.Child("successPolicy", "group"), fmt.Sprintf("%q is not a replica group of this job: name one of spec.replicaGroups", sp.Group)))
		}
	}
	if fp := s.FailurePolicy; fp != nil {
		pp := p.Child("failurePolicy")
		switch fp.RestartScope {
		case "", RestartGang, RestartReplica:
		default:
			errs = append(errs, detail(pp.Child("restartScope"), fmt.Sprintf("%q is not a scope: use Gang or Replica", fp.RestartScope)))
		}
		switch fp.RestartPolicy {
		case "", RestartOnFailure, RestartOnExitCode, RestartNever:
		default:
			errs = append(errs, detail(pp.Child("restartPolicy"), fmt.Sprintf("%q is not a policy: use OnFailure, ExitCode or Never", fp.RestartPolicy)))
		}
		if m := fp.MaxRestarts; m != nil {
			if *m < 0 {
				errs = append(errs, detail(pp.Child("maxRestarts"), "must be 0 or more"))
			}
		}
		if b := fp.BackoffSeconds; b != nil && (*b < 0 || *b > MaxBackoffSecondsLimit) {
			errs = append(errs, detail(pp.Child("backoffSeconds"), fmt.Sprintf("%d is out of range: use 0 to %d", *b, MaxBackoffSecondsLimit)))
		}
		if b := fp.MaxBackoffSeconds; b != nil && (*b < 0 || *b > MaxBackoffSecondsLimit) {
			errs = append(errs, detail(pp.Child("maxBackoffSeconds"), fmt.Sprintf("%d is out of range: use 0 to %d", *b, MaxBackoffSecondsLimit)))
		}
		if fp.RestartScope == RestartReplica && s.Framework != "" && s.Framework != FrameworkNone {
			errs = append(errs, detail(pp.Child("restartScope"), fmt.Sprintf("Replica restarts do not work with the %s preset, whose ranks rendezvous once per attempt: use Gang or framework none", s.Framework)))
		}
	}
	if g := s.RunPolicy.TerminationGracePeriodSeconds; g != nil && (*g < 0 || *g > 3600) {
		errs = append(errs, detail(p.Child("runPolicy", "terminationGracePeriodSeconds"), fmt.Sprintf("%d is out of range: use 0 to 3600 seconds", *g)))
	}
	if d := s.CheckpointDir; d != "" {
		errs = append(errs, validateCheckpointDir(p.Child("checkpointDir"), d)...)
	}
	return errs
}

// validateCheckpointDir refuses what can never lie inside the namespace's
// checkpoint directory. Absolute paths are checked against the data
// directory by the server, which knows it (CheckpointPath).
func validateCheckpointDir(p *field.Path, d string) field.ErrorList {
	if len(d) > 255 {
		return field.ErrorList{detail(p, "is longer than 255 characters: use a shorter path")}
	}
	if strings.ContainsRune(d, 0) {
		return field.ErrorList{detail(p, "contains a NUL byte: use a plain path")}
	}
	if path.IsAbs(d) {
		return nil
	}
	for _, seg := range strings.Split(d, "/") {
		if seg == ".." {
			return field.ErrorList{detail(p, fmt.Sprintf("%q leaves the namespace's checkpoint directory: use a path without '..', e.g. my-run", d))}
		}
	}
	clean := path.Clean(d)
	if clean == "." {
		return field.ErrorList{detail(p, fmt.Sprintf("%q names the namespace's checkpoint directory itself: use a subdirectory, e.g. my-run", d))}
	}
	if clean == jobCheckpoints || strings.HasPrefix(clean, jobCheckpoints+"/") {
		return field.ErrorList{detail(p, fmt.Sprintf("%q is inside %s/, which holds the directories of jobs without a checkpointDir: choose another path", d, jobCheckpoints))}
	}
	return nil
}

// jobCheckpoints holds the checkpoint directories of jobs that set no
// checkpointDir, below a namespace's checkpoint directory.
const jobCheckpoints = "_jobs"

// CheckpointPath resolves a job's checkpoint directory under dataDir:
// <dataDir>/checkpoints/<namespace>/<checkpointDir>, or _jobs/<name> there
// when checkpointDir is empty. It
// returns a field error when the result would lie outside that namespace's
// directory (an absolute path elsewhere, or one that climbs out).
func CheckpointPath(dataDir string, job *Job) (string, *field.Error) {
	root := path.Join(path.Clean(dataDir), "checkpoints", job.Namespace)
	d := job.Spec.CheckpointDir
	if d == "" {
		// A directory of the job's own, in a part of the tree no
		// checkpointDir may name, so deleting it with the job removes
		// nothing another job chose to share.
		return path.Join(root, jobCheckpoints, job.Name), nil
	}
	p := field.NewPath("spec", "checkpointDir")
	if errs := validateCheckpointDir(p, d); len(errs) > 0 {
		return "", errs[0]
	}
	var full string
	if path.IsAbs(d) {
		full = path.Clean(d)
	} else {
		full = path.Join(root, d)
	}
	if own := path.Join(root, jobCheckpoints); full == own || strings.HasPrefix(full, own+"/") {
		return "", detail(p, fmt.Sprintf("%q is inside %s, which holds the directories of jobs without a checkpointDir: choose another path", d, own))
	}
	if full == root || !strings.HasPrefix(full, root+"/") {
		return "", detail(p, fmt.Sprintf("%q is outside the data directory's checkpoints for namespace %s: use a relative path (resolved under %s) or an absolute path below it", d, job.Namespace, root))
	}
	return full, nil
}

// MaxRestarts is how many restarts the job may make: failurePolicy.maxRestarts,
// else runPolicy.backoffLimit.
func (s *JobSpec) MaxRestarts() int32 {
	if s.FailurePolicy != nil && s.FailurePolicy.MaxRestarts != nil {
		return *s.FailurePolicy.MaxRestarts
	}
	return s.RunPolicy.Backoff()
}

// RestartScope is failurePolicy.restartScope with its default.
func (s *JobSpec) RestartScope() string {
	if s.FailurePolicy != nil && s.FailurePolicy.RestartScope != "" {
		return s.FailurePolicy.RestartScope
	}
	return RestartGang
}

// Retryable says whether a replica's failure may be retried under the
// failure policy: exitCode is nil when no code is known (a lost replica).
func (s *JobSpec) Retryable(exitCode *int32) bool {
	policy := RestartOnFailure
	if s.FailurePolicy != nil && s.FailurePolicy.RestartPolicy != "" {
		policy = s.FailurePolicy.RestartPolicy
	}
	switch policy {
	case RestartNever:
		return false
	case RestartOnExitCode:
		// As the Kubeflow Training Operator's ExitCode policy: 1-127 are the
		// program's own verdict, 128 and up mean a signal (an OOM kill, a
		// node going away) worth retrying.
		return exitCode == nil || *exitCode >= 128
	}
	return true
}
