package kube

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/yaml"
)

// crdReadyTimeout bounds how long InstallCRDs waits for the API server to
// serve newly installed kinds.
const crdReadyTimeout = 60 * time.Second

// InstallCRDs creates or updates CustomResourceDefinitions (each doc one
// YAML or JSON document) and waits until they are established and the
// skiff.dev API serves every kind.
func InstallCRDs(ctx context.Context, cfg *rest.Config, docs [][]byte) error {
	c := rest.CopyConfig(cfg)
	gv := schema.GroupVersion{Group: "apiextensions.k8s.io", Version: "v1"}
	c.GroupVersion = &gv
	c.APIPath = "/apis"
	c.NegotiatedSerializer = serializer.NewCodecFactory(Scheme()).WithoutConversion()
	client, err := rest.RESTClientFor(c)
	if err != nil {
		return fmt.Errorf("installing CRDs: %w", err)
	}
	var names []string
	for _, doc := range docs {
		name, err := applyCRD(ctx, client, doc)
		if err != nil {
			return err
		}
		names = append(names, name)
	}
	ctx, cancel := context.WithTimeout(ctx, crdReadyTimeout)
	defer cancel()
	for _, name := range names {
		if err := waitEstablished(ctx, client, name); err != nil {
			return err
		}
	}
	sk, err := New(ctx, cfg)
	for err != nil {
		select {
		case <-ctx.Done():
			return fmt.Errorf("installing CRDs: the API server does not serve them yet: %w", err)
		case <-time.After(100 * time.Millisecond):
		}
		sk, err = New(ctx, cfg)
	}
	return sk.Close()
}

type crdDoc struct {
	Metadata struct {
		Name            string `json:"name"`
		ResourceVersion string `json:"resourceVersion,omitempty"`
	} `json:"metadata"`
}

// applyCRD creates the CRD in doc, or replaces the stored one.
func applyCRD(ctx context.Context, client *rest.RESTClient, doc []byte) (string, error) {
	js, err := yaml.YAMLToJSON(doc)
	if err != nil {
		return "", fmt.Errorf("installing CRDs: not YAML: %w", err)
	}
	var meta crdDoc
	if err := json.Unmarshal(js, &meta); err != nil || meta.Metadata.Name == "" {
		return "", fmt.Errorf("installing CRDs: a document without metadata.name")
	}
	name := meta.Metadata.Name
	err = client.Post().Resource("customresourcedefinitions").Body(js).Do(ctx).Error()
	if !apierrors.IsAlreadyExists(err) {
		if err != nil {
			return "", fmt.Errorf("installing CRD %s: %w", name, err)
		}
		return name, nil
	}
	for attempt := 0; ; attempt++ {
		raw, err := client.Get().Resource("customresourcedefinitions").Name(name).Do(ctx).Raw()
		if err != nil {
			return "", fmt.Errorf("updating CRD %s: %w", name, err)
		}
		var cur crdDoc
		if err := json.Unmarshal(raw, &cur); err != nil {
			return "", fmt.Errorf("updating CRD %s: %w", name, err)
		}
		var obj map[string]any
		if err := json.Unmarshal(js, &obj); err != nil {
			return "", err
		}
		obj["metadata"].(map[string]any)["resourceVersion"] = cur.Metadata.ResourceVersion
		body, err := json.Marshal(obj)
		if err != nil {
			return "", err
		}
		err = client.Put().Resource("customresourcedefinitions").Name(name).Body(body).Do(ctx).Error()
		if err == nil {
			return name, nil
		}
		if !apierrors.IsConflict(err) || attempt >= 5 {
			return "", fmt.Errorf("updating CRD %s: %w", name, err)
		}
	}
}

// waitEstablished waits for the CRD's Established condition.
func waitEstablished(ctx context.Context, client *rest.RESTClient, name string) error {
	for {
		raw, err := client.Get().Resource("customresourcedefinitions").Name(name).Do(ctx).Raw()
		if err == nil {
			var crd struct {
				Status struct {
					Conditions []struct {
						Type, Status, Message string
					} `json:"conditions"`
				} `json:"status"`
			}
			if err := json.Unmarshal(raw, &crd); err != nil {
				return fmt.Errorf("CRD %s: %w", name, err)
			}
			for _, c := range crd.Status.Conditions {
				if c.Type == "Established" && c.Status == "True" {
					return nil
				}
				if c.Type == "NamesAccepted" && c.Status == "False" {
					return fmt.Errorf("CRD %s: names not accepted: %s", name, c.Message)
				}
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("CRD %s is not established: %w", name, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}
