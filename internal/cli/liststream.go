package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"
)

// Listing 100,000 objects must take well under two seconds end to end.
// encoding/json's Decoder scans every byte twice and runs on one core, so
// lists are cut into items by the small scanner below (one pass, no
// decoding) and the items are decoded into row structs on all cores, in
// batches whose results are written in list order.

// valueScanner reads JSON values from a stream without decoding them.
type valueScanner struct {
	r   io.Reader
	buf []byte
	pos int
	err error
}

func newValueScanner(r io.Reader) *valueScanner {
	return &valueScanner{r: r, buf: make([]byte, 0, 256<<10)}
}

// fill reads more input; it returns false at the end of the stream.
func (s *valueScanner) fill() bool {
	if s.err != nil {
		return false
	}
	if s.pos == len(s.buf) {
		s.buf, s.pos = s.buf[:0], 0
	}
	if len(s.buf) == cap(s.buf) {
		// Keep unread bytes; grow only when they fill the buffer.
		n := copy(s.buf, s.buf[s.pos:])
		s.buf, s.pos = s.buf[:n], 0
		if n == cap(s.buf) {
			s.buf = append(s.buf, 0)[:n]
		}
	}
	n, err := s.r.Read(s.buf[len(s.buf):cap(s.buf)])
	s.buf = s.buf[:len(s.buf)+n]
	if err != nil {
		s.err = err
	}
	return n > 0 || err == nil
}

// peek returns the next non-space byte without consuming it.
func (s *valueScanner) peek() (byte, error) {
	for {
		for s.pos < len(s.buf) {
			switch c := s.buf[s.pos]; c {
			case ' ', '\t', '\n', '\r':
				s.pos++
			default:
				return c, nil
			}
		}
		if !s.fill() {
			return 0, s.eof()
		}
	}
}

func (s *valueScanner) eof() error {
	if s.err == nil || s.err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return s.err
}

// expect consumes the next non-space byte, which must be c.
func (s *valueScanner) expect(c byte) error {
	got, err := s.peek()
	if err != nil {
		return err
	}
	if got != c {
		return fmt.Errorf("malformed list: found %q where %q was expected", got, c)
	}
	s.pos++
	return nil
}

// value appends the next complete JSON value to dst.
func (s *valueScanner) value(dst []byte) ([]byte, error) {
	first, err := s.peek()
	if err != nil {
		return dst, err
	}
	depth := 0
	inString, escaped := false, false
	literal := first != '{' && first != '[' && first != '"'
	for {
		start := s.pos
		for ; s.pos < len(s.buf); s.pos++ {
			c := s.buf[s.pos]
			switch {
			case literal:
				if c == ',' || c == '}' || c == ']' || c == ' ' || c == '\n' || c == '\t' || c == '\r' {
					dst = append(dst, s.buf[start:s.pos]...)
					if len(dst) == 0 {
						return dst, fmt.Errorf("malformed list: found %q where a value was expected", c)
					}
					return dst, nil
				}
			case inString:
				switch {
				case escaped:
					escaped = false
				case c == '\\':
					escaped = true
				case c == '"':
					inString = false
					if depth == 0 {
						s.pos++
						return append(dst, s.buf[start:s.pos]...), nil
					}
				}
			case c == '"':
				inString = true
			case c == '{' || c == '[':
				depth++
			case c == '}' || c == ']':
				depth--
				if depth == 0 {
					s.pos++
					return append(dst, s.buf[start:s.pos]...), nil
				}
			}
		}
		dst = append(dst, s.buf[start:s.pos]...)
		if !s.fill() {
			if literal && len(dst) > 0 {
				return dst, nil
			}
			return dst, s.eof()
		}
	}
}

// scanList calls item with each element of the list's "items" and returns
// the list's metadata.resourceVersion. item's argument is only valid during
// the call.
func scanList(r io.Reader, item func(raw []byte) error) (rv string, err error) {
	s := newValueScanner(r)
	if err := s.expect('{'); err != nil {
		return "", err
	}
	var scratch []byte
	for {
		c, err := s.peek()
		if err != nil {
			return "", err
		}
		if c == '}' {
			s.pos++
			return rv, nil
		}
		if c == ',' {
			s.pos++
			continue
		}
		scratch, err = s.value(scratch[:0])
		if err != nil {
			return "", err
		}
		var key string
		if err := json.Unmarshal(scratch, &key); err != nil {
			return "", fmt.Errorf("malformed list: bad member name: %w", err)
		}
		if err := s.expect(':'); err != nil {
			return "", err
		}
		switch key {
		case "items":
			if err := s.expect('['); err != nil {
				return "", err
			}
			for {
				c, err := s.peek()
				if err != nil {
					return "", err
				}
				if c == ']' {
					s.pos++
					break
				}
				if c == ',' {
					s.pos++
					continue
				}
				scratch, err = s.value(scratch[:0])
				if err != nil {
					return "", err
				}
				if err := item(scratch); err != nil {
					return "", err
				}
			}
		case "metadata":
			scratch, err = s.value(scratch[:0])
			if err != nil {
				return "", err
			}
			var lm struct {
				ResourceVersion string `json:"resourceVersion"`
			}
			if err := json.Unmarshal(scratch, &lm); err != nil {
				return "", fmt.Errorf("malformed list metadata: %w", err)
			}
			rv = lm.ResourceVersion
		default:
			if scratch, err = s.value(scratch[:0]); err != nil {
				return "", err
			}
		}
	}
}

// rowPrinter prints one line per object; rowCells may run concurrently.
type rowPrinter interface {
	objPrinter
	rowCells(raw []byte) ([]string, error)
	writeCells(cells []string)
}

const batchSize = 512

type batch struct {
	data  []byte
	ends  []int
	cells [][]string
	err   error
	done  chan struct{}
}

// printList decodes a streamed list with every core and prints its rows in
// order. It returns the list's resourceVersion and the number of items.
func printList(r io.Reader, p rowPrinter) (rv string, n int, err error) {
	workers := runtime.GOMAXPROCS(0)
	work := make(chan *batch, workers)
	ordered := make(chan *batch, 2*workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range work {
				start := 0
				b.cells = make([][]string, 0, len(b.ends))
				for _, end := range b.ends {
					raw := b.data[start:end]
					start = end
					cells, err := p.rowCells(raw)
					if err != nil {
						b.err = err
						break
					}
					b.cells = append(b.cells, cells)
				}
				close(b.done)
			}
		}()
	}
	// The writer prints batches in list order as they complete.
	writeErr := make(chan error, 1)
	go func() {
		var first error
		for b := range ordered {
			<-b.done
			if first == nil && b.err != nil {
				first = b.err
			}
			if first != nil {
				continue // drain
			}
			for _, c := range b.cells {
				p.writeCells(c)
			}
		}
		writeErr <- first
	}()

	cur := &batch{done: make(chan struct{})}
	send := func() {
		if len(cur.ends) == 0 {
			return
		}
		ordered <- cur
		work <- cur
		cur = &batch{done: make(chan struct{})}
	}
	rv, err = scanList(r, func(raw []byte) error {
		cur.data = append(cur.data, raw...)
		cur.ends = append(cur.ends, len(cur.data))
		n++
		if len(cur.ends) == batchSize {
			send()
		}
		return nil
	})
	send()
	close(work)
	close(ordered)
	wg.Wait()
	if werr := <-writeErr; err == nil && werr != nil {
		err = werr
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		err = errors.New("the server ended the list early: run the command again")
	}
	return rv, n, err
}
