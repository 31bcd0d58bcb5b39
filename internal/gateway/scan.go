package gateway

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/tidwall/gjson"
)

// The request body and the answer's usage are read on every request.
// encoding/json's reflection costs a few microseconds each time, about as
// much as the rest of the gateway's own work; gjson validates and walks the
// top level without it. Both fast paths give exactly what encoding/json
// would (keys matched without regard to case, the last duplicate winning)
// or step aside: anything unusual, and every malformed body, goes through
// encoding/json, whose errors the client sees (FuzzScanRequest and
// FuzzReadUsage hold the two paths to the same answers).

// decodeRequest reads the fields of a request body the gateway needs.
func decodeRequest(body []byte) (inferenceRequest, error) {
	if req, ok := scanRequest(body); ok {
		return req, nil
	}
	var req inferenceRequest
	err := json.Unmarshal(body, &req)
	return req, err
}

// scanRequest is decodeRequest's fast path; ok is false where it cannot
// be sure to agree with encoding/json.
func scanRequest(body []byte) (req inferenceRequest, ok bool) {
	if !gjson.ValidBytes(body) {
		return req, false
	}
	root := gjson.ParseBytes(body)
	if !root.IsObject() {
		return req, false
	}
	ok = true
	root.ForEach(func(k, v gjson.Result) bool {
		switch {
		case strings.EqualFold(k.Str, "model"):
			switch {
			case v.Type == gjson.String && utf8.ValidString(v.Str):
				req.Model = v.Str
			case v.Type != gjson.Null: // null leaves the field as it was
				ok = false
			}
		case strings.EqualFold(k.Str, "stream"):
			switch v.Type {
			case gjson.True, gjson.False:
				req.Stream = v.Bool()
			case gjson.Null:
			default:
				ok = false
			}
		case strings.EqualFold(k.Str, "stream_options"):
			switch {
			case v.Type == gjson.Null:
				req.StreamOptions = nil
			case v.IsObject():
				if req.StreamOptions == nil {
					req.StreamOptions = &streamOptions{}
				}
				ok = scanStreamOptions(v, req.StreamOptions)
			default:
				ok = false
			}
		}
		return ok
	})
	return req, ok
}

func scanStreamOptions(v gjson.Result, so *streamOptions) bool {
	ok := true
	v.ForEach(func(k, v gjson.Result) bool {
		if strings.EqualFold(k.Str, "include_usage") {
			switch v.Type {
			case gjson.True, gjson.False:
				so.IncludeUsage = v.Bool()
			case gjson.Null:
			default:
				ok = false
			}
		}
		return ok
	})
	return ok
}

// readUsage finds the top-level usage object of a JSON answer. Servers put
// it last, so it starts from the last "usage" key rather than parsing the
// whole answer; a "usage" inside generated text is skipped because what
// follows it is not a usage object.
func readUsage(b []byte) (prompt, completion int64) {
	for end := len(b); end > 0; {
		i := bytes.LastIndex(b[:end], []byte(`"usage"`))
		if i < 0 {
			return 0, 0
		}
		end = i
		rest := bytes.TrimLeft(b[i+len(`"usage"`):], " \t\r\n")
		if len(rest) == 0 || rest[0] != ':' {
			continue
		}
		obj := bytes.TrimLeft(rest[1:], " \t\r\n")
		n := objectLen(obj)
		if n == 0 {
			continue
		}
		if p, c, ok := usageOf(obj[:n]); ok {
			return p, c
		}
	}
	return 0, 0
}

// usageOf reads a usage object as encoding/json would into
// {PromptTokens *int64; CompletionTokens int64}: ok is false when that
// would fail or leave PromptTokens nil.
func usageOf(obj []byte) (prompt, completion int64, ok bool) {
	if !gjson.ValidBytes(obj) {
		return 0, 0, false
	}
	var havePrompt bool
	ok = true
	gjson.ParseBytes(obj).ForEach(func(k, v gjson.Result) bool {
		var dst *int64
		switch {
		case strings.EqualFold(k.Str, "prompt_tokens"):
			dst = &prompt
			if v.Type == gjson.Null {
				havePrompt = false
				return true
			}
			havePrompt = true
		case strings.EqualFold(k.Str, "completion_tokens"):
			dst = &completion
			if v.Type == gjson.Null {
				return true
			}
		default:
			return true
		}
		n, err := strconv.ParseInt(v.Raw, 10, 64)
		if v.Type != gjson.Number || err != nil {
			ok = false
			return false
		}
		*dst = n
		return true
	})
	return prompt, completion, ok && havePrompt
}

// objectLen is the length of the JSON object b starts with, found by
// matching brackets outside strings (the caller then validates it), or 0
// when b does not start with a complete one.
func objectLen(b []byte) int {
	if len(b) == 0 || b[0] != '{' {
		return 0
	}
	depth, inString, escaped := 0, false, false
	for i, c := range b {
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == '{' || c == '[':
			depth++
		case c == '}' || c == ']':
			depth--
			if depth == 0 {
				return i + 1
			}
		}
	}
	return 0
}
