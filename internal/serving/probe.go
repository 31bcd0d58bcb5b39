package serving

import (
	"context"
	"fmt"
	"io"
	"net/http"
)

// probeClient never uses a proxy: replicas are local.
var probeClient = &http.Client{Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}

// httpProbe returns a probe that GETs path on a replica and wants a 2xx.
func httpProbe(path string) func(ctx context.Context, base string) error {
	return func(ctx context.Context, base string) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+path, nil)
		if err != nil {
			return err
		}
		resp, err := probeClient.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		if resp.StatusCode/100 != 2 {
			return fmt.Errorf("GET %s answered %s", path, resp.Status)
		}
		return nil
	}
}
