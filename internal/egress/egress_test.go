package egress

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"testing"
)

type fakeResolver map[string][]netip.Addr

func (f fakeResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	if a, ok := f[host]; ok {
		return a, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
}

func TestCheckURL(t *testing.T) {
	res := fakeResolver{
		"models.example.com": {netip.MustParseAddr("93.184.216.34")},
		"rebind.example.com": {netip.MustParseAddr("93.184.216.34"), netip.MustParseAddr("127.0.0.1")},
		"internal.example":   {netip.MustParseAddr("10.0.5.7")},
	}
	tests := []struct {
		url   string
		c     Checker
		allow bool
	}{
		{"https://models.example.com/llama.gguf", Checker{}, true},
		{"http://93.184.216.34:8080/x", Checker{}, true},
		{"http://127.0.0.1:7400/apis", Checker{}, false},
		{"http://localhost/", Checker{}, false},
		{"http://api.localhost/", Checker{}, false},
		{"http://[::1]/", Checker{}, false},
		{"http://169.254.169.254/latest/meta-data/", Checker{}, false},
		{"http://[::ffff:169.254.169.254]/", Checker{}, false},
		{"http://169.254.10.1/", Checker{}, false},
		{"http://[fe80::1]/", Checker{}, false},
		{"http://10.1.2.3/", Checker{}, false},
		{"http://172.16.0.1/", Checker{}, false},
		{"http://192.168.1.1/", Checker{}, false},
		{"http://[fd00::1]/", Checker{}, false},
		{"http://100.64.0.1/", Checker{}, false},
		{"http://0.0.0.0/", Checker{}, false},
		{"http://224.0.0.1/", Checker{}, false},
		{"http://10.1.2.3/", Checker{AllowPrivate: true}, true},
		{"http://169.254.169.254/", Checker{AllowPrivate: true}, false},
		{"http://127.0.0.1/", Checker{AllowPrivate: true}, false},
		{"http://internal.example/", Checker{}, false},
		{"http://internal.example/", Checker{Allow: []netip.Prefix{netip.MustParsePrefix("10.0.5.0/24")}}, true},
		{"http://rebind.example.com/", Checker{}, false},
		{"http://nosuch.example.com/", Checker{}, false},
		{"file:///etc/passwd", Checker{}, false},
		{"gopher://models.example.com/", Checker{}, false},
		{"http://user:pw@models.example.com/", Checker{}, false},
		{"http:///nohost", Checker{}, false},
	}
	for _, tt := range tests {
		c := tt.c
		c.Resolver = res
		_, err := c.CheckURL(context.Background(), tt.url)
		if tt.allow && err != nil {
			t.Errorf("CheckURL(%q) = %v, want allowed", tt.url, err)
		}
		if !tt.allow && (err == nil || !errors.Is(err, ErrBlocked)) {
			t.Errorf("CheckURL(%q) = %v, want ErrBlocked", tt.url, err)
		}
	}
}

func TestDialContextChecksTheDialledAddress(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var c Checker
	if _, err := c.DialContext(context.Background(), "tcp", l.Addr().String()); !errors.Is(err, ErrBlocked) {
		t.Fatalf("dialling loopback: %v, want ErrBlocked", err)
	}
	c.Allow = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	conn, err := c.DialContext(context.Background(), "tcp", l.Addr().String())
	if err != nil {
		t.Fatalf("dialling an allowed prefix: %v", err)
	}
	conn.Close()
}
