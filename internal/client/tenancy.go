package client

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"skiff.dev/skiff/internal/audit"
)

// WithWarningHandler calls fn with each warning the server sends (e.g.
// from a policy rule whose action is Warn).
func WithWarningHandler(fn func(msg string)) Option { return func(c *Client) { c.warn = fn } }

// warnings passes the text of each `Warning: 299 - "text"` header on.
func (c *Client) warnings(h http.Header) {
	if c.warn == nil {
		return
	}
	for _, v := range h.Values("Warning") {
		msg := v
		if rest, ok := strings.CutPrefix(v, "299 - "); ok {
			if u, err := strconv.Unquote(rest); err == nil {
				msg = u
			} else {
				msg = rest
			}
		}
		c.warn(msg)
	}
}

// AuditQuery selects audit events.
type AuditQuery struct {
	User  string
	Since time.Time
	Limit int
}

// Audit reads the server's audit log (cluster-admins only).
func (c *Client) Audit(ctx context.Context, q AuditQuery) ([]audit.Event, error) {
	v := url.Values{}
	if q.User != "" {
		v.Set("user", q.User)
	}
	if !q.Since.IsZero() {
		v.Set("since", q.Since.UTC().Format(time.RFC3339))
	}
	if q.Limit > 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	resp, err := c.do(ctx, http.MethodGet, apiPrefix+"/audit", v, nil)
	if err != nil {
		return nil, err
	}
	var l struct {
		Items []audit.Event `json:"items"`
	}
	if err := decodeBody(resp, &l); err != nil {
		return nil, err
	}
	return l.Items, nil
}
