package v1alpha1

import (
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// maxServiceReplicas bounds maxReplicas (each replica is a Job and a port).
const maxServiceReplicas = 256

// defaultInferenceService fills what a user may leave out.
func defaultInferenceService(o *InferenceService) {
	if o.Namespace == "" {
		o.Namespace = DefaultNamespace
	}
	s := &o.Spec
	if s.Queue == "" {
		s.Queue = DefaultQueue
	}
	if s.Priority == nil {
		p := DefaultServingPriority
		s.Priority = &p
	}
	if s.MinReplicas == nil {
		m := int32(1)
		s.MinReplicas = &m
	}
	if s.MaxReplicas == 0 {
		s.MaxReplicas = max(*s.MinReplicas, 1)
	}
	if s.Routing == "" {
		s.Routing = RoutingLeastRequest
	}
	if s.Autoscaling == nil {
		s.Autoscaling = &Autoscaling{}
	}
	a := s.Autoscaling
	if a.TargetInFlight == 0 {
		a.TargetInFlight = DefaultTargetInFlight
	}
	if a.ScaleToZeroAfter == nil {
		a.ScaleToZeroAfter = &metav1.Duration{Duration: 5 * time.Minute}
	}
	if a.StableWindow == nil {
		a.StableWindow = &metav1.Duration{Duration: time.Minute}
	}
	if a.PanicWindow == nil {
		a.PanicWindow = &metav1.Duration{Duration: 6 * time.Second}
	}
	if s.ReadinessProbe == nil {
		s.ReadinessProbe = &ReadinessProbe{}
	}
	if s.ReadinessProbe.Path == "" {
		s.ReadinessProbe.Path = DefaultProbePath
	}
	if s.ReadinessProbe.PeriodSeconds == 0 {
		s.ReadinessProbe.PeriodSeconds = 1
	}
}

func validateInferenceServiceSpec(s *InferenceServiceSpec, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if s.Queue != "" {
		errs = append(errs, dnsLabel(p.Child("queue"), s.Queue)...)
	}
	if len(s.Models) == 0 {
		errs = append(errs, detail(p.Child("models"), "required: list the model names clients will send, e.g. [tiny-chat]"))
	}
	seen := map[string]bool{}
	for i, m := range s.Models {
		mp := p.Child("models").Index(i)
		if !validModelName(m) {
			errs = append(errs, detail(mp, fmt.Sprintf("%q is not a model name: use 1 to 128 letters, digits, '.', '_', ':' or '-' (no '/')", m)))
		}
		if seen[m] {
			errs = append(errs, detail(mp, fmt.Sprintf("duplicate model %q: list each name once", m)))
		}
		seen[m] = true
	}
	tp := p.Child("template")
	if len(s.Template.Command) == 0 || s.Template.Command[0] == "" {
		errs = append(errs, detail(tp.Child("command"), "required: give the model server to run; it must listen on $PORT, e.g. [\"python3\", \"-m\", \"vllm.entrypoints.openai.api_server\"]"))
	}
	for j, e := range s.Template.Env {
		ep := tp.Child("env").Index(j).Child("name")
		switch {
		case e.Name == "" || len(validation.IsEnvVarName(e.Name)) > 0:
			errs = append(errs, detail(ep, fmt.Sprintf("%q is not a valid environment variable name: use letters, digits and '_'", e.Name)))
		case e.Name == "PORT":
			errs = append(errs, detail(ep, "PORT is set by skiff for each replica: remove it"))
		case len(e.Name) >= 6 && e.Name[:6] == "SKIFF_":
			errs = append(errs, detail(ep, fmt.Sprintf("%q uses the reserved SKIFF_ prefix: rename the variable", e.Name)))
		}
	}
	errs = append(errs, validateResources(s.Template.Resources, tp.Child("resources"))...)
	minR := s.Min()
	if minR < 0 || minR > maxServiceReplicas {
		errs = append(errs, detail(p.Child("minReplicas"), fmt.Sprintf("%d is out of range: use 0 (scale to zero) to %d", minR, maxServiceReplicas)))
	}
	if s.MaxReplicas < 1 || s.MaxReplicas > maxServiceReplicas {
		errs = append(errs, detail(p.Child("maxReplicas"), fmt.Sprintf("%d is out of range: use 1 to %d", s.MaxReplicas, maxServiceReplicas)))
	} else if s.MaxReplicas < minR {
		errs = append(errs, detail(p.Child("maxReplicas"), fmt.Sprintf("%d is below minReplicas (%d): raise maxReplicas or lower minReplicas", s.MaxReplicas, minR)))
	}
	switch s.Routing {
	case "", RoutingRoundRobin, RoutingLeastRequest, RoutingPrefixAffinity, RoutingLeastLoad:
	default:
		errs = append(errs, detail(p.Child("routing"), fmt.Sprintf("%q is not a policy: use round-robin, least-request, prefix-affinity or least-load", s.Routing)))
	}
	if c := s.CanaryTrafficPercent; c != nil && (*c < 0 || *c > 100) {
		errs = append(errs, detail(p.Child("canaryTrafficPercent"), fmt.Sprintf("%d is out of range: use 0 to 100 (100 promotes the new revision; remove the field to roll out without a canary)", *c)))
	}
	if a := s.Autoscaling; a != nil {
		ap := p.Child("autoscaling")
		if a.TargetInFlight < 0 {
			errs = append(errs, detail(ap.Child("targetInFlight"), "must be a positive number of requests per replica, e.g. 8"))
		}
		for name, d := range map[string]*metav1.Duration{"scaleToZeroAfter": a.ScaleToZeroAfter, "stableWindow": a.StableWindow, "panicWindow": a.PanicWindow} {
			if d != nil && d.Duration <= 0 {
				errs = append(errs, detail(ap.Child(name), "must be a positive duration such as 30s or 5m"))
			}
		}
		if a.StableWindow != nil && a.PanicWindow != nil && a.PanicWindow.Duration > a.StableWindow.Duration {
			errs = append(errs, detail(ap.Child("panicWindow"), "must not be longer than stableWindow"))
		}
	}
	if r := s.ReadinessProbe; r != nil {
		rp := p.Child("readinessProbe")
		if r.Path != "" && r.Path[0] != '/' {
			errs = append(errs, detail(rp.Child("path"), fmt.Sprintf("%q must start with '/', e.g. /health", r.Path)))
		}
		if r.PeriodSeconds < 0 {
			errs = append(errs, detail(rp.Child("periodSeconds"), "must be a positive number of seconds"))
		}
	}
	if l := s.Limits; l != nil {
		lp := p.Child("limits")
		for name, r := range map[string]*RateLimit{"perKey": l.PerKey, "perNamespace": l.PerNamespace} {
			if r == nil {
				continue
			}
			if r.RequestsPerMinute < 0 {
				errs = append(errs, detail(lp.Child(name, "requestsPerMinute"), "must be 0 (unlimited) or more"))
			}
			if r.TokensPerMinute < 0 {
				errs = append(errs, detail(lp.Child(name, "tokensPerMinute"), "must be 0 (unlimited) or more"))
			}
		}
	}
	return errs
}

func validModelName(m string) bool {
	if len(m) == 0 || len(m) > 128 {
		return false
	}
	for _, r := range m {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == ':' || r == '-'
		if !ok {
			return false
		}
	}
	return true
}
