package apiserver

import (
	"errors"
	"fmt"
	"net/http"
	"reflect"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/yaml"

	"skiff.dev/skiff/api/v1alpha1"
	"skiff.dev/skiff/internal/store"
)

func (s *Server) get(w http.ResponseWriter, r *http.Request, t target) {
	obj := t.kind.New()
	if err := s.cfg.Store.Get(r.Context(), t.namespace, t.name, obj); err != nil {
		writeError(w, err)
		return
	}
	writeObject(w, r, http.StatusOK, obj)
}

func (s *Server) create(w http.ResponseWriter, r *http.Request, t target) {
	obj, secret, err := s.prepareCreate(w, r, t)
	if err != nil {
		writeError(w, err)
		return
	}
	if tok, ok := obj.(*v1alpha1.Token); ok {
		if err := s.ensureNamespace(r.Context(), tok.Spec.Namespace); err != nil {
			writeError(w, err)
			return
		}
	}
	if err := s.cfg.Store.Create(r.Context(), obj); err != nil {
		writeError(w, err)
		return
	}
	infoFrom(r.Context()).name = obj.GetName()
	s.afterWrite(Create, obj)
	if tok, ok := obj.(*v1alpha1.Token); ok {
		// The secret goes to the client once; the store never had it.
		tok.Status.Token = secret
	}
	writeObject(w, r, http.StatusCreated, obj)
}

func (s *Server) afterWrite(op Operation, obj v1alpha1.Object) {
	if s.cfg.AfterWrite != nil {
		s.cfg.AfterWrite(op, obj)
	}
}

// prepareCreate runs every check of a create; the object it returns is
// ready to store. secret is the new bearer token when obj is a Token.
func (s *Server) prepareCreate(w http.ResponseWriter, r *http.Request, t target) (obj v1alpha1.Object, secret string, err error) {
	obj, err = s.readObject(w, r, t)
	if err != nil {
		return nil, "", err
	}
	infoFrom(r.Context()).name = obj.GetName()
	if err := matchNamespace(t, obj); err != nil {
		return nil, "", err
	}
	if tok, ok := obj.(*v1alpha1.Token); ok {
		if secret, err = s.prepareToken(r, t, tok); err != nil {
			return nil, "", err
		}
	}
	if obj.GetResourceVersion() != "" {
		return nil, "", invalidField(t.kind.Kind, obj.GetName(), field.NewPath("metadata", "resourceVersion"),
			"must be empty when creating: remove it (the server assigns it)")
	}
	clearServerFields(obj)
	resetStatus(obj)
	v1alpha1.Default(obj)
	if err := v1alpha1.Validate(obj); err != nil {
		return nil, "", invalid(t.kind.Kind, obj.GetName(), err)
	}
	if err := s.admit(r, Create, t, obj, nil); err != nil {
		return nil, "", err
	}
	return obj, secret, nil
}

func (s *Server) update(w http.ResponseWriter, r *http.Request, t target) {
	merged, unchanged, err := s.prepareUpdate(w, r, t)
	if err != nil {
		writeError(w, err)
		return
	}
	// A no-op update writes nothing and keeps the resourceVersion, as
	// Kubernetes does; `apply` relies on this to report "unchanged".
	if !unchanged {
		if err := s.cfg.Store.Update(r.Context(), merged); err != nil {
			writeError(w, err)
			return
		}
		s.afterWrite(Update, merged)
	}
	writeObject(w, r, http.StatusOK, merged)
}

// prepareUpdate merges the user's object into the stored one and runs every
// check. unchanged reports that the merge changed nothing; merged is then
// the stored object.
func (s *Server) prepareUpdate(w http.ResponseWriter, r *http.Request, t target) (merged v1alpha1.Object, unchanged bool, err error) {
	in, err := s.readObject(w, r, t)
	if err != nil {
		return nil, false, err
	}
	switch in.GetName() {
	case "":
		in.SetName(t.name)
	case t.name:
	default:
		return nil, false, apierrors.NewBadRequest(fmt.Sprintf(
			"metadata.name: %q does not match the name %q in the URL: objects cannot be renamed; create a new one instead", in.GetName(), t.name))
	}
	if err := matchNamespace(t, in); err != nil {
		return nil, false, err
	}
	rv := in.GetResourceVersion()
	if rv == "" {
		return nil, false, invalidField(t.kind.Kind, t.name, field.NewPath("metadata", "resourceVersion"),
			"must be specified for an update: GET the object and send back its metadata.resourceVersion")
	}
	stored := t.kind.New()
	if err := s.cfg.Store.Get(r.Context(), t.namespace, t.name, stored); err != nil {
		return nil, false, err
	}
	v1alpha1.SetTypeMeta(stored)
	if stored.GetResourceVersion() != rv {
		return nil, false, apierrors.NewConflict(t.kind.GroupResource(), t.name, fmt.Errorf(
			"resourceVersion %s is not the current %s: the object has been modified; GET it and apply your changes to the latest version", rv, stored.GetResourceVersion()))
	}
	if in, ok := in.(*v1alpha1.Token); ok {
		// What the server filled in (the secret's hash, the expiry from a
		// ttl) counts only where the manifest states it: applying the
		// manifest a token was created from again changes nothing.
		st := stored.(*v1alpha1.Token).Spec
		if in.Spec.SecretHash == "" {
			in.Spec.SecretHash = st.SecretHash
		}
		if in.Spec.ExpiresAt == nil {
			in.Spec.ExpiresAt = st.ExpiresAt
		}
		if !equality.Semantic.DeepEqual(in.Spec, st) {
			return nil, false, invalidField("Token", t.name, field.NewPath("spec"),
				"a token cannot be changed: revoke it (skiff token revoke) and create a new one")
		}
	}
	merged = stored.DeepCopyObject().(v1alpha1.Object)
	copyUserFields(merged, in)
	merged.SetLabels(in.GetLabels())
	merged.SetAnnotations(in.GetAnnotations())
	v1alpha1.Default(merged)
	if err := v1alpha1.Validate(merged); err != nil {
		return nil, false, invalid(t.kind.Kind, t.name, err)
	}
	if err := s.admit(r, Update, t, merged, stored); err != nil {
		return nil, false, err
	}
	if equality.Semantic.DeepEqual(merged, stored) {
		return stored, true, nil
	}
	return merged, false, nil
}

func (s *Server) delete(w http.ResponseWriter, r *http.Request, t target) {
	var opts store.DeleteOptions
	body, err := s.readBody(w, r)
	if err != nil {
		writeError(w, err)
		return
	}
	if len(body) > 0 {
		var do metav1.DeleteOptions
		if err := yaml.Unmarshal(body, &do); err != nil {
			writeError(w, apierrors.NewBadRequest(fmt.Sprintf("the DELETE body is not DeleteOptions: %v: send {\"preconditions\":{\"resourceVersion\":\"N\"}} or no body", err)))
			return
		}
		if do.Preconditions != nil && do.Preconditions.ResourceVersion != nil {
			opts.ResourceVersion = *do.Preconditions.ResourceVersion
		}
	}
	stored := t.kind.New()
	if err := s.cfg.Store.Get(r.Context(), t.namespace, t.name, stored); err != nil {
		writeError(w, err)
		return
	}
	if err := s.admit(r, Delete, t, nil, stored); err != nil {
		writeError(w, err)
		return
	}
	if err := s.cfg.Store.Delete(r.Context(), t.kind, t.namespace, t.name, opts); err != nil {
		writeError(w, err)
		return
	}
	s.afterWrite(Delete, stored)
	// With finalizers the object stays, marked for deletion: answer 202
	// with it so the caller sees deletionTimestamp and the finalizers.
	after := t.kind.New()
	err = s.cfg.Store.Get(r.Context(), t.namespace, t.name, after)
	switch {
	case err == nil:
		writeObject(w, r, http.StatusAccepted, after)
	case apierrors.IsNotFound(err):
		writeJSON(w, http.StatusOK, &metav1.Status{
			TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"},
			Status:   metav1.StatusSuccess, Code: http.StatusOK,
			Details: &metav1.StatusDetails{Name: t.name, Group: v1alpha1.Group, Kind: t.kind.Plural, UID: stored.GetUID()},
		})
	default:
		writeError(w, err)
	}
}

func (s *Server) admit(r *http.Request, op Operation, t target, obj, old v1alpha1.Object) error {
	if s.cfg.Admit == nil {
		return nil
	}
	name := t.name
	if obj != nil {
		name = obj.GetName()
	}
	if err := s.cfg.Admit(r.Context(), op, obj, old); err != nil {
		return admissionError(t.kind.Kind, name, err)
	}
	return nil
}

// matchNamespace fills an empty metadata.namespace from the URL and refuses
// a different one, so a manifest can never land in a namespace other than
// the one the request was authorized for.
func matchNamespace(t target, obj v1alpha1.Object) error {
	if !t.kind.Namespaced {
		return nil // Validate refuses a namespace on cluster kinds.
	}
	switch ns := obj.GetNamespace(); ns {
	case "":
		obj.SetNamespace(t.namespace)
	case t.namespace:
	default:
		return apierrors.NewBadRequest(fmt.Sprintf(
			"metadata.namespace: %q does not match the namespace %q in the URL: remove metadata.namespace or send the object to %s",
			ns, t.namespace, collectionPath(t.kind, ns)))
	}
	return nil
}

// clearServerFields drops metadata the store assigns, so that a manifest
// saved with `get -o yaml` can be created again.
func clearServerFields(obj v1alpha1.Object) {
	obj.SetUID("")
	obj.SetCreationTimestamp(metav1.Time{})
	obj.SetGeneration(0)
	obj.SetDeletionTimestamp(nil)
	obj.SetDeletionGracePeriodSeconds(nil)
	obj.SetManagedFields(nil)
}

var (
	typeMetaType   = reflect.TypeOf(metav1.TypeMeta{})
	objectMetaType = reflect.TypeOf(metav1.ObjectMeta{})
)

// resetStatus zeroes the Status field of kinds that have one: users never
// write status.
func resetStatus(obj v1alpha1.Object) {
	v := reflect.ValueOf(obj).Elem()
	if f := v.FieldByName("Status"); f.IsValid() && f.CanSet() {
		f.Set(reflect.Zero(f.Type()))
	}
}

// copyUserFields copies every top-level field a user owns (spec, and the
// body fields of kinds without spec such as Event) from src to dst,
// leaving TypeMeta, ObjectMeta and Status alone.
func copyUserFields(dst, src v1alpha1.Object) {
	dv, sv := reflect.ValueOf(dst).Elem(), reflect.ValueOf(src).Elem()
	if dv.Type() != sv.Type() {
		panic(errors.New("copyUserFields: different types"))
	}
	for i := 0; i < dv.NumField(); i++ {
		f := dv.Type().Field(i)
		if f.Type == typeMetaType || f.Type == objectMetaType || f.Name == "Status" || !f.IsExported() {
			continue
		}
		dv.Field(i).Set(sv.Field(i))
	}
}
