package gateway

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"
)

// apiError is an error in OpenAI's format:
// {"error": {"message", "type", "param", "code"}}.
type apiError struct {
	Status  int    `json:"-"`
	Message string `json:"message"`
	Type    string `json:"type"`
	Param   any    `json:"param"`
	Code    any    `json:"code"`
	// RetryAfter, when positive, becomes the Retry-After header.
	RetryAfter time.Duration `json:"-"`
}

func (e *apiError) Error() string { return e.Message }

// OpenAI error types.
const (
	typeInvalidRequest = "invalid_request_error"
	typeAuthentication = "authentication_error"
	typePermission     = "permission_error"
	typeNotFound       = "not_found_error"
	typeRateLimit      = "rate_limit_error"
	typeServer         = "server_error"
)

func errBadRequest(msg, param string) *apiError {
	e := &apiError{Status: http.StatusBadRequest, Message: msg, Type: typeInvalidRequest}
	if param != "" {
		e.Param = param
	}
	return e
}

func errUnauthorized(msg string) *apiError {
	return &apiError{Status: http.StatusUnauthorized, Message: msg, Type: typeAuthentication, Code: "invalid_api_key"}
}

func errModelNotFound(model string) *apiError {
	return &apiError{Status: http.StatusNotFound, Type: typeNotFound, Param: "model", Code: "model_not_found",
		Message: "The model `" + model + "` does not exist or is not served: list the models your key can use with GET /v1/models"}
}

func errRateLimited(msg string, retry time.Duration) *apiError {
	return &apiError{Status: http.StatusTooManyRequests, Type: typeRateLimit, Code: "rate_limit_exceeded", Message: msg, RetryAfter: retry}
}

func errUnavailable(msg string, retry time.Duration) *apiError {
	return &apiError{Status: http.StatusServiceUnavailable, Type: typeServer, Message: msg, RetryAfter: retry}
}

func errBadGateway(msg string) *apiError {
	return &apiError{Status: http.StatusBadGateway, Type: typeServer, Message: msg}
}

// writeError answers with e as OpenAI clients expect it.
func writeError(w http.ResponseWriter, e *apiError) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	if e.RetryAfter > 0 {
		secs := int64((e.RetryAfter + time.Second - 1) / time.Second)
		h.Set("Retry-After", strconv.FormatInt(secs, 10))
	}
	if e.Status == http.StatusUnauthorized {
		h.Set("WWW-Authenticate", `Bearer realm="skiff"`)
	}
	w.WriteHeader(e.Status)
	_ = json.NewEncoder(w).Encode(map[string]*apiError{"error": e})
}

// streamError is the last event of a stream whose replica failed mid-way.
func streamError(msg string) []byte {
	b, _ := json.Marshal(map[string]*apiError{"error": {Message: msg, Type: typeServer}})
	return append(append([]byte("data: "), b...), '\n', '\n')
}
