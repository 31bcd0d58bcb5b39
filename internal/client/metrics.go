package client

import (
	"context"
	"net/http"
	"net/url"

	"skiff.dev/skiff/api/v1alpha1"
)

// MetricsOptions narrow a metrics read.
type MetricsOptions struct {
	// Name selects one metric; empty means every metric.
	Name string
	// Latest returns only each metric's point with the highest step.
	Latest bool
}

func jobSubPath(namespace, job, sub string) string {
	k, _ := v1alpha1.LookupKind("jobs")
	return objectPath(k, namespace, job) + "/" + sub
}

// Metrics reads a job's metric points, ordered by name then step.
func (c *Client) Metrics(ctx context.Context, namespace, job string, opts MetricsOptions) ([]v1alpha1.MetricPoint, error) {
	q := url.Values{}
	if opts.Name != "" {
		q.Set("name", opts.Name)
	}
	if opts.Latest {
		q.Set("latest", "true")
	}
	resp, err := c.do(ctx, http.MethodGet, jobSubPath(namespace, job, "metrics"), q, nil)
	if err != nil {
		return nil, err
	}
	var pts []v1alpha1.MetricPoint
	if err := decodeBody(resp, &pts); err != nil {
		return nil, err
	}
	return pts, nil
}

// ReportMetrics posts points of a job (with the job's token, or a user's
// with update rights on jobs).
func (c *Client) ReportMetrics(ctx context.Context, namespace, job string, points []v1alpha1.MetricPoint) error {
	resp, err := c.do(ctx, http.MethodPost, jobSubPath(namespace, job, "metrics"), nil, v1alpha1.MetricReport{Points: points})
	if err != nil {
		return err
	}
	return resp.Body.Close()
}

// Notice reads whether a job's replicas are being stopped, and why.
func (c *Client) Notice(ctx context.Context, namespace, job string) (v1alpha1.JobNotice, error) {
	var n v1alpha1.JobNotice
	resp, err := c.do(ctx, http.MethodGet, jobSubPath(namespace, job, "notice"), nil, nil)
	if err != nil {
		return n, err
	}
	err = decodeBody(resp, &n)
	return n, err
}
