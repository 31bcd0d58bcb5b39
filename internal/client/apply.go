package client

import (
	"context"
	"fmt"
	"reflect"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"skiff.dev/skiff/api/v1alpha1"
)

// ApplyResult says what Apply did, in kubectl's words.
type ApplyResult string

// Apply results.
const (
	Created    ApplyResult = "created"
	Configured ApplyResult = "configured"
	Unchanged  ApplyResult = "unchanged"
)

// applyAttempts bounds retries when a controller updates the object
// (status) between Apply's read and write.
const applyAttempts = 5

// Apply makes the server hold obj: it creates it, or, when it exists,
// replaces its spec, labels and annotations, keeping status. The server
// writes nothing for an update that changes nothing, which is how
// "unchanged" is told apart from "configured". obj is filled with the
// stored object.
func (c *Client) Apply(ctx context.Context, obj v1alpha1.Object) (ApplyResult, error) {
	k, err := kindOf(obj)
	if err != nil {
		return "", err
	}
	if k.Namespaced && obj.GetNamespace() == "" {
		obj.SetNamespace(v1alpha1.DefaultNamespace)
	}
	var lastErr error
	for range applyAttempts {
		desired := obj.DeepCopyObject().(v1alpha1.Object)
		// Server-owned metadata from a saved `get -o yaml` must not make
		// the create fail.
		desired.SetResourceVersion("")
		desired.SetUID("")
		err := c.Create(ctx, desired)
		if err == nil {
			set(obj, desired)
			return Created, nil
		}
		if !apierrors.IsAlreadyExists(err) {
			return "", err
		}
		cur := k.New()
		if err := c.Get(ctx, obj.GetNamespace(), obj.GetName(), cur); err != nil {
			if apierrors.IsNotFound(err) { // deleted meanwhile: create again
				lastErr = err
				continue
			}
			return "", err
		}
		desired.SetResourceVersion(cur.GetResourceVersion())
		if err := c.Update(ctx, desired); err != nil {
			if apierrors.IsConflict(err) || apierrors.IsNotFound(err) {
				lastErr = err
				continue
			}
			return "", err
		}
		set(obj, desired)
		if desired.GetResourceVersion() == cur.GetResourceVersion() {
			return Unchanged, nil
		}
		return Configured, nil
	}
	return "", fmt.Errorf("applying %s %q: the object kept changing under us, try again: %w", k.Singular, obj.GetName(), lastErr)
}

// set copies src's value into dst (same concrete type).
func set(dst, src v1alpha1.Object) {
	reflect.ValueOf(dst).Elem().Set(reflect.ValueOf(src).Elem())
}
