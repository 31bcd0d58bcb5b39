package client

import (
	"context"
	"net/http"

	"skiff.dev/skiff/internal/gpu"
)

// GPUsPath is the server's GPU telemetry route.
const GPUsPath = "/telemetry/gpus"

// GPUs reads the server's GPU report: telemetry, the replica on each GPU
// (for GPUs of the caller's namespace) and the recent history.
func (c *Client) GPUs(ctx context.Context) (gpu.Report, error) {
	var rep gpu.Report
	resp, err := c.do(ctx, http.MethodGet, GPUsPath, nil, nil)
	if err != nil {
		return rep, err
	}
	return rep, decodeBody(resp, &rep)
}
