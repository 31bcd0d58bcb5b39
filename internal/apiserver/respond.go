package apiserver

import (
	"bytes"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/yaml"

	"skiff.dev/skiff/api/v1alpha1"
)

// toStatus turns any error into the Status the client receives. Errors that
// are not already API statuses are internal errors: the store and admission
// hooks return apierrors for everything a user can cause.
func toStatus(err error) *apierrors.StatusError {
	if se, ok := errorsAs[*apierrors.StatusError](err); ok {
		return se
	}
	if s, ok := err.(apierrors.APIStatus); ok {
		return &apierrors.StatusError{ErrStatus: s.Status()}
	}
	return apierrors.NewInternalError(err)
}

func writeError(w http.ResponseWriter, err error) {
	st := toStatus(err).ErrStatus
	st.TypeMeta = metav1.TypeMeta{Kind: "Status", APIVersion: "v1"}
	st.Status = metav1.StatusFailure
	if st.Code == 0 {
		st.Code = http.StatusInternalServerError
	}
	writeJSON(w, int(st.Code), &st)
}

func notFoundPath(path string) error {
	return &apierrors.StatusError{ErrStatus: metav1.Status{
		Status: metav1.StatusFailure, Code: http.StatusNotFound, Reason: metav1.StatusReasonNotFound,
		Message: fmt.Sprintf("no resource at %s: resource URLs look like %s/namespaces/NAMESPACE/jobs or %s/queues", path, APIPrefix, APIPrefix),
	}}
}

func methodNotAllowed(method, path string) error {
	return &apierrors.StatusError{ErrStatus: metav1.Status{
		Status: metav1.StatusFailure, Code: http.StatusMethodNotAllowed, Reason: metav1.StatusReasonMethodNotAllowed,
		Message: fmt.Sprintf("%s is not supported on %s: use GET, POST (collections), PUT or DELETE (objects)", method, path),
	}}
}

func unsupportedMediaType(ct string) error {
	return &apierrors.StatusError{ErrStatus: metav1.Status{
		Status: metav1.StatusFailure, Code: http.StatusUnsupportedMediaType, Reason: metav1.StatusReasonUnsupportedMediaType,
		Message: fmt.Sprintf("Content-Type %q is not supported: send application/json or application/yaml", ct),
	}}
}

func validateNamespace(ns string) string {
	if msgs := validation.IsDNS1123Label(ns); len(msgs) > 0 {
		return fmt.Sprintf("namespace %q in the path is not a valid name: use at most 63 lower-case letters, digits and '-'", ns)
	}
	return ""
}

// invalid builds the 422 for a validation error, keeping each field error
// as a Status cause so clients can point at the field.
func invalid(kind, name string, err error) *apierrors.StatusError {
	var errs field.ErrorList
	if ve, ok := errorsAs[*v1alpha1.ValidationError](err); ok {
		errs = ve.Errors
	}
	return invalidStatus(kind, name, err.Error(), errs)
}

// invalidField is a 422 naming one field.
func invalidField(kind, name string, path *field.Path, msg string) *apierrors.StatusError {
	errs := field.ErrorList{{Type: field.ErrorTypeInvalid, Field: path.String(), Detail: msg}}
	return invalidStatus(kind, name, path.String()+": "+msg, errs)
}

func invalidStatus(kind, name, msg string, errs field.ErrorList) *apierrors.StatusError {
	st := metav1.Status{
		Status: metav1.StatusFailure, Code: http.StatusUnprocessableEntity, Reason: metav1.StatusReasonInvalid,
		Details: &metav1.StatusDetails{Group: v1alpha1.Group, Kind: kind, Name: name},
		Message: fmt.Sprintf("%s %q is invalid: %s", kind, name, msg),
	}
	for _, fe := range errs {
		st.Details.Causes = append(st.Details.Causes, metav1.StatusCause{
			Type: metav1.CauseType(fe.Type), Field: fe.Field, Message: fe.Detail,
		})
	}
	return &apierrors.StatusError{ErrStatus: st}
}

// admissionError maps an AdmitFunc error to a Status (see AdmitFunc).
func admissionError(kind, name string, err error) error {
	if _, ok := errorsAs[*apierrors.StatusError](err); ok {
		return err
	}
	if _, ok := errorsAs[*v1alpha1.ValidationError](err); ok {
		return invalid(kind, name, err)
	}
	return &apierrors.StatusError{ErrStatus: metav1.Status{
		Status: metav1.StatusFailure, Code: http.StatusUnprocessableEntity, Reason: metav1.StatusReasonInvalid,
		Details: &metav1.StatusDetails{Group: v1alpha1.Group, Kind: kind, Name: name},
		Message: fmt.Sprintf("%s %q was rejected: %s", kind, name, err.Error()),
	}}
}

// wantsYAML reports whether the client asked for YAML. The first media
// type in Accept that we can produce wins; JSON is the default.
func wantsYAML(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept"), ",") {
		mt, _, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		switch mt {
		case "application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml":
			return true
		case "application/json", "*/*", "application/*":
			return false
		}
	}
	return false
}

// writeObject sends obj as JSON or YAML as the client asked.
func writeObject(w http.ResponseWriter, r *http.Request, code int, obj v1alpha1.Object) {
	v1alpha1.SetTypeMeta(obj)
	if wantsYAML(r) {
		b, err := yaml.Marshal(obj)
		if err != nil {
			writeError(w, err)
			return
		}
		w.Header().Set("Content-Type", "application/yaml")
		w.WriteHeader(code)
		_, _ = w.Write(b)
		return
	}
	writeJSON(w, code, obj)
}

// readBody reads a size-limited JSON or YAML request body.
func (s *Server) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil {
			return nil, unsupportedMediaType(ct)
		}
		switch mt {
		case "application/json", "application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml":
		default:
			return nil, unsupportedMediaType(ct)
		}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes))
	if err != nil {
		if _, ok := errorsAs[*http.MaxBytesError](err); ok {
			return nil, apierrors.NewRequestEntityTooLargeError(fmt.Sprintf(
				"the request body is larger than %d bytes: split the manifest into smaller objects", s.cfg.MaxBodyBytes))
		}
		return nil, apierrors.NewBadRequest(fmt.Sprintf("reading the request body: %v", err))
	}
	return body, nil
}

// readObject decodes the body strictly and checks that it is the kind the
// URL names.
func (s *Server) readObject(w http.ResponseWriter, r *http.Request, t target) (v1alpha1.Object, error) {
	body, err := s.readBody(w, r)
	if err != nil {
		return nil, err
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("the request body is empty: send a %s manifest", t.kind.Kind))
	}
	obj, err := v1alpha1.Decode(body)
	if err != nil {
		return nil, apierrors.NewBadRequest(err.Error())
	}
	k, err := v1alpha1.KindOf(obj)
	if err != nil {
		return nil, apierrors.NewInternalError(err)
	}
	if k.Kind != t.kind.Kind {
		return nil, apierrors.NewBadRequest(fmt.Sprintf(
			"kind: the body is a %s but the URL is for %s: send it to %s", k.Kind, t.kind.Plural, collectionPath(k, obj.GetNamespace())))
	}
	return obj, nil
}

// collectionPath is where objects of kind k in namespace ns are created.
func collectionPath(k v1alpha1.Kind, ns string) string {
	if !k.Namespaced {
		return APIPrefix + "/" + k.Plural
	}
	if ns == "" {
		ns = "NAMESPACE"
	}
	return APIPrefix + "/namespaces/" + ns + "/" + k.Plural
}
