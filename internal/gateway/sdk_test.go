package gateway

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// The official Go SDK is the client: what it accepts, OpenAI clients do.
func sdkClient(h *harness, token string) openai.Client {
	return openai.NewClient(option.WithBaseURL(h.srv.URL+"/v1/"), option.WithAPIKey(token), option.WithMaxRetries(0))
}

func TestOpenAIGoSDKChatStreamAndErrors(t *testing.T) {
	h := newHarness(t, nil)
	s := tinyService("team-a", PrefixAffinity)
	s.KeyLimit = Limit{TokensPerMinute: 15}
	h.serve(s, newBackend(t, "a"), newBackend(t, "b"))
	ctx := context.Background()
	c := sdkClient(h, teamAToken)

	resp, err := c.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
		Model:    "tiny-chat",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.SystemMessage("be brief"), openai.UserMessage("hello")},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Choices) != 1 || resp.Usage.TotalTokens != 12 {
		t.Errorf("answer %+v", resp)
	}
	first := resp.Choices[0].Message.Content

	stream := c.Chat.Completions.NewStreaming(ctx, openai.ChatCompletionNewParams{
		Model:         "tiny-chat",
		Messages:      []openai.ChatCompletionMessageParamUnion{openai.SystemMessage("be brief"), openai.UserMessage("hello")},
		StreamOptions: openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)},
	})
	var text strings.Builder
	var usage int64
	for stream.Next() {
		ch := stream.Current()
		if len(ch.Choices) > 0 {
			text.WriteString(ch.Choices[0].Delta.Content)
		}
		if ch.Usage.TotalTokens > 0 {
			usage = ch.Usage.TotalTokens
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	// Prefix affinity: the same conversation went to the same replica.
	if want := first + "-0" + first + "-1" + first + "-2"; text.String() != want || usage != 10 {
		t.Errorf("stream text %q usage %d, want %q and 10", text.String(), usage, want)
	}

	// 22 tokens used against a 15/min budget: the SDK sees a 429.
	_, err = c.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "tiny-chat",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("again")}})
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusTooManyRequests || apiErr.Type != typeRateLimit {
		t.Fatalf("over the token limit: %v", err)
	}
	if apiErr.Response.Header.Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}

	for _, tc := range []struct {
		token, model string
		code         int
	}{{teamAToken, "missing", 404}, {"skf_nope", "tiny-chat", 401}, {teamBToken, "tiny-chat", 403}} {
		other := sdkClient(h, tc.token)
		_, err := other.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: tc.model,
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("x")}})
		if !errors.As(err, &apiErr) || apiErr.StatusCode != tc.code || apiErr.Message == "" {
			t.Errorf("%s with %s: %v, want %d", tc.model, tc.token, err, tc.code)
		}
	}

	models, err := c.Models.List(ctx)
	if err != nil || len(models.Data) != 1 || models.Data[0].ID != "tiny-chat" {
		t.Errorf("models %+v %v", models, err)
	}
}

func TestMetricsRecordRequestsTokensAndLatency(t *testing.T) {
	m := NewMetrics()
	h := newHarness(t, func(c *Config) { c.Metrics = m })
	h.serve(tinyService("team-a", ""), newBackend(t, "a"))
	readAll(t, h.post(teamAToken, "/v1/chat/completions", chatBody("tiny-chat", "hi", false)))
	readAll(t, h.post(teamAToken, "/v1/chat/completions", chatBody("tiny-chat", "hi", true)))
	readAll(t, h.post(teamAToken, "/v1/chat/completions", chatBody("nope", "hi", false)))
	readAll(t, h.post("skf_wrong", "/v1/chat/completions", chatBody("tiny-chat", "hi", false)))
	get := func(token string) (int, string) {
		req, _ := http.NewRequest(http.MethodGet, h.srv.URL+"/metrics", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		return readAll(t, mustDo(t, req))
	}
	if code, _ := get(teamAToken); code != http.StatusForbidden {
		t.Errorf("a tenant read metrics: %d", code)
	}
	code, body := get(adminToken)
	for _, want := range []string{
		`skiff_gateway_requests_total{code="200",model="tiny-chat",namespace="team-a"} 2`,
		`skiff_gateway_tokens_total{key="tk-a",model="tiny-chat",namespace="team-a",type="output"} 8`,
		`skiff_gateway_tokens_total{key="tk-a",model="tiny-chat",namespace="team-a",type="input"} 14`,
		`skiff_gateway_time_to_first_token_seconds_count{model="tiny-chat",namespace="team-a"} 1`,
		`skiff_gateway_request_duration_seconds_count{model="tiny-chat",namespace="team-a"} 2`,
	} {
		if code != 200 || !strings.Contains(body, want) {
			t.Errorf("metrics lack %s:\n%s", want, body)
		}
	}
	// Requests refused before routing are counted, under no model: the
	// name is the client's, and a series per name would let any key grow
	// the metrics without bound.
	for _, want := range []string{
		`skiff_gateway_requests_total{code="404",model="",namespace="team-a"} 1`,
		`skiff_gateway_requests_total{code="401",model="",namespace=""} 1`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %s:\n%s", want, body)
		}
	}
	if strings.Contains(body, `model="nope"`) {
		t.Errorf("a refused request made a series for its model name")
	}
}

func TestSpansFollowTheGenAIConventionsAndReachTheReplica(t *testing.T) {
	sr := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sr))
	h := newHarness(t, func(c *Config) { c.Tracer = tp.Tracer("test") })
	var traceparent atomic.Value
	be := newBackend(t, "a")
	inner := be.srv.Config.Handler
	be.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		traceparent.Store(r.Header.Get("Traceparent"))
		inner.ServeHTTP(w, r)
	})
	h.serve(tinyService("team-a", ""), be)
	if code, body := readAll(t, h.post(teamAToken, "/v1/chat/completions", chatBody("tiny-chat", "hi", false))); code != 200 {
		t.Fatal(code, body)
	}
	spans := sr.Ended()
	if len(spans) != 1 {
		t.Fatalf("%d spans", len(spans))
	}
	s := spans[0]
	attrs := map[string]string{}
	for _, kv := range s.Attributes() {
		attrs[string(kv.Key)] = kv.Value.String()
	}
	want := map[string]string{"gen_ai.operation.name": "chat", "gen_ai.request.model": "tiny-chat",
		"gen_ai.usage.input_tokens": "7", "gen_ai.usage.output_tokens": "5", "http.response.status_code": "200", "skiff.replica": "a"}
	for k, v := range want {
		if attrs[k] != v {
			t.Errorf("%s = %q, want %q (all: %v)", k, attrs[k], v, attrs)
		}
	}
	if s.Name() != "chat tiny-chat" {
		t.Errorf("span name %q", s.Name())
	}
	tp0, _ := traceparent.Load().(string)
	if !strings.Contains(tp0, s.SpanContext().TraceID().String()) {
		t.Errorf("replica got traceparent %q, want trace %s", tp0, s.SpanContext().TraceID())
	}
}

// Refusals no service's limits cover are logged at most
// refusalLogLimit per minute per key, and all of them are counted.
func TestRefusalsLeaveABoundedTrailInTheRequestLog(t *testing.T) {
	m := NewMetrics()
	var logged atomic.Int32
	h := newHarness(t, func(c *Config) {
		c.Metrics = m
		c.Observe = func(RequestRecord) { logged.Add(1) }
	})
	n := int(refusalLogLimit.RequestsPerMinute) + 15
	for range n {
		readAll(t, h.post(teamAToken, "/v1/chat/completions", chatBody("no-such-model", "hi", false)))
	}
	if got := int(logged.Load()); got != int(refusalLogLimit.RequestsPerMinute) {
		t.Errorf("%d of %d refusals logged within a minute, want %d", got, n, refusalLogLimit.RequestsPerMinute)
	}
	h.clk.Add(time.Minute)
	readAll(t, h.post(teamAToken, "/v1/chat/completions", chatBody("no-such-model", "hi", false)))
	if got := int(logged.Load()); got != int(refusalLogLimit.RequestsPerMinute)+1 {
		t.Errorf("after a minute %d logged, want one more", got)
	}
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if want := fmt.Sprintf(`skiff_gateway_requests_total{code="404",model="",namespace="team-a"} %d`, n+1); !strings.Contains(rec.Body.String(), want) {
		t.Errorf("metrics lack %s", want)
	}
}
