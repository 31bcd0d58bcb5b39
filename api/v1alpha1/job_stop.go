package v1alpha1

// A controller that owns a Job (an Experiment stopping a trial that early
// stopping rejected) asks for it to end by setting these annotations: the
// job controller stops the job's replicas (SIGTERM, then SIGKILL after the
// grace period) and ends the job as Failed with condition reason
// AnnotationStopReason's value and AnnotationStopMessage as the message. A
// job that has already finished keeps its phase.
const (
	AnnotationStopReason  = "skiff.dev/stop-reason"
	AnnotationStopMessage = "skiff.dev/stop-message"
)

// StopRequested returns the reason and message of a stop asked for with
// AnnotationStopReason, and whether one was.
func (j *Job) StopRequested() (reason, message string, ok bool) {
	reason = j.Annotations[AnnotationStopReason]
	return reason, j.Annotations[AnnotationStopMessage], reason != ""
}
