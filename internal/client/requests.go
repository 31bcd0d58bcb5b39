package client

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"skiff.dev/skiff/internal/reqlog"
)

// RequestsQuery selects entries of the gateway's request log.
type RequestsQuery struct {
	// Namespace is one namespace; "" means the token's own (every
	// namespace for a cluster-admin).
	Namespace string
	Model     string
	// Service is an InferenceService's name.
	Service string
	Since   time.Time
	Limit   int
}

func (q RequestsQuery) values() url.Values {
	v := url.Values{}
	if q.Namespace != "" {
		v.Set("namespace", q.Namespace)
	}
	if q.Model != "" {
		v.Set("model", q.Model)
	}
	if q.Service != "" {
		v.Set("service", q.Service)
	}
	if !q.Since.IsZero() {
		v.Set("since", q.Since.UTC().Format(time.RFC3339))
	}
	if q.Limit > 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	return v
}

// Requests reads the gateway's request log, newest first.
func (c *Client) Requests(ctx context.Context, q RequestsQuery) ([]reqlog.Entry, error) {
	var l struct {
		Items []reqlog.Entry `json:"items"`
	}
	resp, err := c.do(ctx, http.MethodGet, apiPrefix+"/requests", q.values(), nil)
	if err != nil {
		return nil, err
	}
	if err := decodeBody(resp, &l); err != nil {
		return nil, err
	}
	return l.Items, nil
}

// RequestSummary sums the request log per namespace and model.
func (c *Client) RequestSummary(ctx context.Context, q RequestsQuery) ([]reqlog.Summary, error) {
	var l struct {
		Items []reqlog.Summary `json:"items"`
	}
	v := q.values()
	v.Set("summary", "true")
	resp, err := c.do(ctx, http.MethodGet, apiPrefix+"/requests", v, nil)
	if err != nil {
		return nil, err
	}
	if err := decodeBody(resp, &l); err != nil {
		return nil, err
	}
	return l.Items, nil
}
