package cli

import (
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Table rows need a handful of fields out of each object. Decoding whole
// objects (even into small structs) with encoding/json costs most of the
// time of a 100,000-row `get`, so rows pluck their fields from the JSON
// bytes in one pass instead: members off the wanted paths are skipped
// without being decoded, and arrays on a path are walked element by
// element (spec.replicaGroups.replicas yields one value per group).

// pathNode is one step of the wanted paths; index >= 0 marks a leaf.
type pathNode struct {
	index    int
	children map[string]*pathNode
}

// fieldSet is a compiled list of dotted paths.
type fieldSet struct {
	root  *pathNode
	index map[string]int
}

func newFieldSet(paths ...string) *fieldSet {
	fs := &fieldSet{root: &pathNode{index: -1}, index: map[string]int{}}
	for i, p := range paths {
		n := fs.root
		for _, part := range strings.Split(p, ".") {
			if n.children == nil {
				n.children = map[string]*pathNode{}
			}
			c, ok := n.children[part]
			if !ok {
				c = &pathNode{index: -1}
				n.children[part] = c
			}
			n = c
		}
		n.index = i
		fs.index[p] = i
	}
	return fs
}

// values are the raw JSON values plucked for each path, in document order.
type values struct {
	fs   *fieldSet
	vals [][][]byte
}

var errMalformed = errors.New("malformed JSON object")

// pluck collects the values of fs's paths from one JSON object.
func (fs *fieldSet) pluck(data []byte) (values, error) {
	v := values{fs: fs, vals: make([][][]byte, len(fs.index))}
	p := plucker{data: data, v: &v}
	if err := p.walk(fs.root); err != nil {
		return v, err
	}
	return v, nil
}

type plucker struct {
	data []byte
	pos  int
	v    *values
}

func (p *plucker) ws() {
	for p.pos < len(p.data) {
		switch p.data[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

// skip moves past one value and returns its bytes.
func (p *plucker) skip() ([]byte, error) {
	p.ws()
	start := p.pos
	if p.pos >= len(p.data) {
		return nil, errMalformed
	}
	switch p.data[p.pos] {
	case '"':
		p.pos++
		for p.pos < len(p.data) {
			switch p.data[p.pos] {
			case '\\':
				p.pos += 2
				continue
			case '"':
				p.pos++
				return p.data[start:p.pos], nil
			}
			p.pos++
		}
		return nil, errMalformed
	case '{', '[':
		depth := 0
		for p.pos < len(p.data) {
			switch p.data[p.pos] {
			case '"':
				if _, err := p.skip(); err != nil {
					return nil, err
				}
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					p.pos++
					return p.data[start:p.pos], nil
				}
			}
			p.pos++
		}
		return nil, errMalformed
	default:
		for p.pos < len(p.data) {
			switch p.data[p.pos] {
			case ',', '}', ']', ' ', '\t', '\n', '\r':
				if p.pos == start {
					return nil, errMalformed // no value here: stop rather than loop
				}
				return p.data[start:p.pos], nil
			}
			p.pos++
		}
		return p.data[start:p.pos], nil
	}
}

func (p *plucker) walk(n *pathNode) error {
	p.ws()
	if p.pos >= len(p.data) {
		return errMalformed
	}
	if n.index >= 0 {
		raw, err := p.skip()
		if err != nil {
			return err
		}
		p.v.vals[n.index] = append(p.v.vals[n.index], raw)
		return nil
	}
	switch p.data[p.pos] {
	case '{':
		p.pos++
		for {
			p.ws()
			if p.pos >= len(p.data) {
				return errMalformed
			}
			switch p.data[p.pos] {
			case '}':
				p.pos++
				return nil
			case ',':
				p.pos++
				continue
			}
			key, err := p.skip()
			if err != nil || len(key) < 2 || key[0] != '"' {
				return errMalformed
			}
			p.ws()
			if p.pos >= len(p.data) || p.data[p.pos] != ':' {
				return errMalformed
			}
			p.pos++
			// Field names on our paths never need unescaping.
			if c, ok := n.children[string(key[1:len(key)-1])]; ok {
				if err := p.walk(c); err != nil {
					return err
				}
			} else if _, err := p.skip(); err != nil {
				return err
			}
		}
	case '[':
		p.pos++
		for {
			p.ws()
			if p.pos >= len(p.data) {
				return errMalformed
			}
			switch p.data[p.pos] {
			case ']':
				p.pos++
				return nil
			case ',':
				p.pos++
				continue
			}
			if err := p.walk(n); err != nil {
				return err
			}
		}
	default:
		_, err := p.skip() // null or a scalar where an object was expected
		return err
	}
}

func (v values) all(path string) [][]byte {
	i, ok := v.fs.index[path]
	if !ok {
		panic("cli: path " + path + " was not declared")
	}
	return v.vals[i]
}

func unquote(raw []byte) string {
	if len(raw) >= 2 && raw[0] == '"' {
		if !strings.ContainsRune(string(raw), '\\') {
			return string(raw[1 : len(raw)-1])
		}
		var s string
		if json.Unmarshal(raw, &s) == nil {
			return s
		}
	}
	if string(raw) == "null" {
		return ""
	}
	return string(raw)
}

// str is the first value of path as a string ("" when absent).
func (v values) str(path string) string {
	if a := v.all(path); len(a) > 0 {
		return unquote(a[0])
	}
	return ""
}

// strs are all values of path, without duplicates, in order.
func (v values) strs(path string) []string {
	var out []string
	seen := map[string]bool{}
	for _, raw := range v.all(path) {
		if s := unquote(raw); s != "" && !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// sum adds the integer values of path.
func (v values) sum(path string) int64 {
	var n int64
	for _, raw := range v.all(path) {
		i, _ := strconv.ParseInt(string(raw), 10, 64)
		n += i
	}
	return n
}

func (v values) boolean(path string) bool { return v.str(path) == "true" }

func (v values) time(path string) metav1.Time {
	t, err := time.Parse(time.RFC3339, v.str(path))
	if err != nil {
		return metav1.Time{}
	}
	return metav1.NewTime(t)
}

// into decodes the first value of path with encoding/json (for the rare
// small structured cell such as a label map).
func (v values) into(path string, out any) {
	if a := v.all(path); len(a) > 0 {
		_ = json.Unmarshal(a[0], out)
	}
}
