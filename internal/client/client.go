package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"skiff.dev/skiff/api/v1alpha1"
)

// apiPrefix matches apiserver.APIPrefix; it is the wire contract, repeated
// here so the client does not import the server.
const apiPrefix = "/apis/" + v1alpha1.Group + "/" + v1alpha1.Version

// Client talks to one skiff server with one bearer token. It is safe for
// concurrent use.
type Client struct {
	server string
	token  string
	hc     *http.Client
	warn   func(string)
}

// Option adjusts a Client.
type Option func(*Client)

// WithHTTPClient replaces the HTTP client (e.g. httptest.Server.Client()).
func WithHTTPClient(hc *http.Client) Option { return func(c *Client) { c.hc = hc } }

// New returns a client for server (e.g. http://127.0.0.1:7070) that sends
// token as a bearer token. A server without a scheme gets http://.
func New(server, token string, opts ...Option) *Client {
	server = strings.TrimRight(strings.TrimSpace(server), "/")
	if server != "" && !strings.Contains(server, "://") {
		server = "http://" + server
	}
	c := &Client{server: server, token: token}
	for _, o := range opts {
		o(c)
	}
	if c.hc == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		// Fail fast when nothing listens; no overall timeout, because
		// watches and followed logs stay open.
		t.DialContext = (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext
		t.Proxy = nil // the API is usually on loopback; never send tokens through a proxy unasked
		c.hc = &http.Client{Transport: t}
	}
	return c
}

// Server is the base URL the client talks to.
func (c *Client) Server() string { return c.server }

// UnreachableError means no HTTP answer came back from the server.
type UnreachableError struct {
	Server string
	Err    error
}

func (e *UnreachableError) Error() string {
	return fmt.Sprintf("cannot reach the skiff server at %s: %v", e.Server, e.Err)
}

func (e *UnreachableError) Unwrap() error { return e.Err }

// ListOptions narrow List, ListStream and Watch.
type ListOptions struct {
	// Namespace "" lists namespaced kinds across all namespaces.
	Namespace     string
	LabelSelector string
	FieldSelector string
	// ResourceVersion is where a Watch starts (events after it).
	ResourceVersion string
	// TimeoutSeconds ends a Watch on the server after this long; 0 means
	// never.
	TimeoutSeconds int
}

func (o ListOptions) query() url.Values {
	q := url.Values{}
	if o.LabelSelector != "" {
		q.Set("labelSelector", o.LabelSelector)
	}
	if o.FieldSelector != "" {
		q.Set("fieldSelector", o.FieldSelector)
	}
	if o.ResourceVersion != "" {
		q.Set("resourceVersion", o.ResourceVersion)
	}
	if o.TimeoutSeconds > 0 {
		q.Set("timeoutSeconds", strconv.Itoa(o.TimeoutSeconds))
	}
	return q
}

// collectionPath is the URL path of a kind's collection in namespace ns
// ("" = all namespaces, or a cluster kind).
func collectionPath(k v1alpha1.Kind, ns string) string {
	if k.Namespaced && ns != "" {
		return apiPrefix + "/namespaces/" + url.PathEscape(ns) + "/" + k.Plural
	}
	return apiPrefix + "/" + k.Plural
}

func objectPath(k v1alpha1.Kind, ns, name string) string {
	if k.Namespaced && ns == "" {
		ns = v1alpha1.DefaultNamespace
	}
	return collectionPath(k, ns) + "/" + url.PathEscape(name)
}

// do sends a request and returns the response when its code is 2xx; any
// other answer becomes a *apierrors.StatusError.
func (c *Client) do(ctx context.Context, method, path string, query url.Values, body any) (*http.Response, error) {
	if c.server == "" {
		return nil, errors.New("no server configured")
	}
	u := c.server + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, fmt.Errorf("encoding the request: %w", err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, fmt.Errorf("building the request: %w", err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "skiff-client")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, &UnreachableError{Server: c.server, Err: unwrapURLError(err)}
	}
	c.warnings(resp.Header)
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return resp, nil
	}
	defer resp.Body.Close()
	return nil, decodeError(resp, method)
}

func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// decodeError turns a non-2xx answer into a StatusError, from its Status
// body when there is one.
func decodeError(resp *http.Response, method string) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	var st metav1.Status
	if json.Unmarshal(b, &st) == nil && (st.Kind == "Status" || st.Reason != "") {
		if st.Code == 0 {
			st.Code = int32(resp.StatusCode)
		}
		return &apierrors.StatusError{ErrStatus: st}
	}
	msg := strings.TrimSpace(string(b))
	if msg == "" {
		msg = http.StatusText(resp.StatusCode)
	}
	return apierrors.NewGenericServerResponse(resp.StatusCode, method, schema.GroupResource{}, "", msg, 0, true)
}

func decodeBody(resp *http.Response, into any) error {
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(into); err != nil {
		return fmt.Errorf("decoding the server's answer: %w", err)
	}
	return nil
}

func kindOf(obj v1alpha1.Object) (v1alpha1.Kind, error) {
	k, err := v1alpha1.KindOf(obj)
	if err != nil {
		return k, fmt.Errorf("client: %w", err)
	}
	return k, nil
}

// Create creates obj and fills it with the stored object. A namespaced
// object without namespace goes to "default".
func (c *Client) Create(ctx context.Context, obj v1alpha1.Object) error {
	k, err := kindOf(obj)
	if err != nil {
		return err
	}
	ns := obj.GetNamespace()
	if k.Namespaced && ns == "" {
		ns = v1alpha1.DefaultNamespace
	}
	v1alpha1.SetTypeMeta(obj)
	resp, err := c.do(ctx, http.MethodPost, collectionPath(k, ns), nil, obj)
	if err != nil {
		return err
	}
	return decodeBody(resp, obj)
}

// Get reads the object namespace/name of into's kind into into.
func (c *Client) Get(ctx context.Context, namespace, name string, into v1alpha1.Object) error {
	k, err := kindOf(into)
	if err != nil {
		return err
	}
	resp, err := c.do(ctx, http.MethodGet, objectPath(k, namespace, name), nil, nil)
	if err != nil {
		return err
	}
	return decodeBody(resp, into)
}

// Update replaces obj's spec, labels and annotations; obj must carry the
// resourceVersion it was read at. obj is filled with the stored object.
func (c *Client) Update(ctx context.Context, obj v1alpha1.Object) error {
	k, err := kindOf(obj)
	if err != nil {
		return err
	}
	v1alpha1.SetTypeMeta(obj)
	resp, err := c.do(ctx, http.MethodPut, objectPath(k, obj.GetNamespace(), obj.GetName()), nil, obj)
	if err != nil {
		return err
	}
	return decodeBody(resp, obj)
}

// Delete deletes an object. An object with finalizers is only marked for
// deletion; Delete returns once the server accepted the request.
func (c *Client) Delete(ctx context.Context, kind v1alpha1.Kind, namespace, name string) error {
	resp, err := c.do(ctx, http.MethodDelete, objectPath(kind, namespace, name), nil, nil)
	if err != nil {
		return err
	}
	resp.Body.Close()
	return nil
}

// List fills into (e.g. *v1alpha1.JobList).
func (c *Client) List(ctx context.Context, into v1alpha1.ObjectList, opts ListOptions) error {
	k, err := listKind(into)
	if err != nil {
		return err
	}
	body, err := c.ListStream(ctx, k, opts)
	if err != nil {
		return err
	}
	defer body.Close()
	if err := json.NewDecoder(body).Decode(into); err != nil {
		return fmt.Errorf("decoding the %s list: %w", k.Plural, err)
	}
	return nil
}

func listKind(l v1alpha1.ObjectList) (v1alpha1.Kind, error) {
	for _, k := range v1alpha1.Kinds() {
		if fmt.Sprintf("%T", k.NewList()) == fmt.Sprintf("%T", l) {
			return k, nil
		}
	}
	return v1alpha1.Kind{}, fmt.Errorf("client: %T is not a skiff.dev/v1alpha1 list", l)
}

// ListStream returns the list's JSON body for the caller to decode item by
// item (see the CLI's `get`), so large lists never sit in memory whole. The
// caller closes it.
func (c *Client) ListStream(ctx context.Context, kind v1alpha1.Kind, opts ListOptions) (io.ReadCloser, error) {
	q := opts.query()
	q.Del("resourceVersion")
	q.Del("timeoutSeconds")
	resp, err := c.do(ctx, http.MethodGet, collectionPath(kind, opts.Namespace), q, nil)
	if err != nil {
		return nil, err
	}
	return resp.Body, nil
}

// VersionInfo is the server's /version answer.
type VersionInfo struct {
	Version    string `json:"version"`
	APIVersion string `json:"apiVersion"`
	GoVersion  string `json:"goVersion"`
}

// Version asks the server for its version. It is also the cheapest way to
// check that the server is reachable and the token is accepted.
func (c *Client) Version(ctx context.Context) (VersionInfo, error) {
	var v VersionInfo
	resp, err := c.do(ctx, http.MethodGet, "/version", nil, nil)
	if err != nil {
		return v, err
	}
	return v, decodeBody(resp, &v)
}

// LogOptions select a replica log.
type LogOptions struct {
	// Replica is group-index, e.g. worker-1; empty lets the server choose.
	Replica string
	Follow  bool
	// Attempt selects a gang attempt; nil means the current one.
	Attempt *int32
}

// Logs opens a job's replica log. With Follow the stream stays open until
// the job's replica ends or ctx is done. The caller closes it.
func (c *Client) Logs(ctx context.Context, namespace, job string, opts LogOptions) (io.ReadCloser, error) {
	k, _ := v1alpha1.LookupKind("jobs")
	q := url.Values{}
	if opts.Replica != "" {
		q.Set("replica", opts.Replica)
	}
	if opts.Follow {
		q.Set("follow", "true")
	}
	if opts.Attempt != nil {
		q.Set("attempt", strconv.Itoa(int(*opts.Attempt)))
	}
	resp, err := c.do(ctx, http.MethodGet, objectPath(k, namespace, job)+"/log", q, nil)
	if err != nil {
		return nil, err
	}
	return resp.Body, nil
}
