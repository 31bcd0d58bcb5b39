package kubetest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"k8s.io/client-go/rest"
)

// APIServerProfile takes a CPU profile of kube-apiserver over the given
// duration (whole seconds, at least one) and returns it in pprof's format
// (`go tool pprof bin/kube/kube-apiserver FILE`). The cluster must have
// been started with Options.Profiling.
func (c *Cluster) APIServerProfile(ctx context.Context, d time.Duration) ([]byte, error) {
	if !c.opts.Profiling {
		return nil, errors.New("kubetest: the API server serves no profile: start the cluster with Options.Profiling")
	}
	secs := max(int(d/time.Second), 1)
	hc, err := rest.HTTPClientFor(c.Config)
	if err != nil {
		return nil, fmt.Errorf("kubetest: profile client: %w", err)
	}
	hc.Timeout = time.Duration(secs)*time.Second + time.Minute
	req, err := http.NewRequestWithContext(ctx, http.MethodGet,
		c.Config.Host+"/debug/pprof/profile?seconds="+strconv.Itoa(secs), nil)
	if err != nil {
		return nil, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("kubetest: API server profile: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("kubetest: API server profile: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("kubetest: API server profile: %s: %.200s", resp.Status, body)
	}
	return body, nil
}
