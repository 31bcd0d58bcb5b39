package metrics

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"skiff.dev/skiff/api/v1alpha1"
)

func TestParseLine(t *testing.T) {
	for _, tc := range []struct {
		line    string
		want    []v1alpha1.MetricPoint
		ok      bool
		wantErr string
	}{
		{line: "skiff:metric loss=0.31 step=120", ok: true,
			want: []v1alpha1.MetricPoint{{Name: "loss", Step: 120, Value: 0.31}}},
		{line: "skiff:metric  loss=1e-3\tval/acc=0.5 step=7\r\n", ok: true,
			want: []v1alpha1.MetricPoint{{Name: "loss", Step: 7, Value: 0.001}, {Name: "val/acc", Step: 7, Value: 0.5}}},
		{line: "skiff:metric step=3 progress=0.25", ok: true,
			want: []v1alpha1.MetricPoint{{Name: "progress", Step: 3, Value: 0.25}}},
		{line: "epoch 3 loss=0.2 step=3"},
		{line: "skiff:metrics loss=1 step=1"},
		{line: " skiff:metric loss=1 step=1"},
		{line: "skiff:metric loss=1", ok: true, wantErr: "no step"},
		{line: "skiff:metric step=1", ok: true, wantErr: "no metric"},
		{line: "skiff:metric loss step=1", ok: true, wantErr: "not NAME=VALUE"},
		{line: "skiff:metric loss=x step=1", ok: true, wantErr: "not a number"},
		{line: "skiff:metric loss=NaN step=1", ok: true, wantErr: "not a finite number"},
		{line: "skiff:metric loss=1 step=-1", ok: true, wantErr: "whole number from 0"},
		{line: "skiff:metric loss=1 step=1 step=2", ok: true, wantErr: "twice"},
		{line: "skiff:metric loss=1 loss=2 step=1", ok: true, wantErr: "twice"},
		{line: "skiff:metric 9lives=1 step=1", ok: true, wantErr: "not a metric name"},
		{line: "skiff:metric progress=1.5 step=1", ok: true, wantErr: "fraction from 0 to 1"},
	} {
		got, ok, err := ParseLine(tc.line)
		if ok != tc.ok {
			t.Errorf("%q: ok = %v, want %v", tc.line, ok, tc.ok)
		}
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%q: err = %v, want one containing %q", tc.line, err, tc.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tc.line, err)
		}
		if d := cmp.Diff(tc.want, got); d != "" {
			t.Errorf("%q (-want +got):\n%s", tc.line, d)
		}
	}
}

func TestFormatLineRoundTrips(t *testing.T) {
	pts := []v1alpha1.MetricPoint{{Name: "loss", Step: 42, Value: 0.1234567890123}, {Name: "lr", Step: 42, Value: 3e-4}}
	line := FormatLine(42, pts...)
	if line != "skiff:metric loss=0.1234567890123 lr=0.0003 step=42" {
		t.Errorf("FormatLine = %q", line)
	}
	got, ok, err := ParseLine(line)
	if !ok || err != nil {
		t.Fatalf("ParseLine(%q) = %v, %v", line, ok, err)
	}
	if d := cmp.Diff(pts, got); d != "" {
		t.Errorf("round trip (-want +got):\n%s", d)
	}
}

func FuzzParseLine(f *testing.F) {
	for _, s := range []string{"skiff:metric loss=0.31 step=120", "skiff:metric a=1 b=2 step=0", "skiff:metric", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		pts, ok, err := ParseLine(line)
		if !ok && (err != nil || pts != nil) {
			t.Fatalf("not a metric line but got %v, %v", pts, err)
		}
		if err != nil && pts != nil {
			t.Fatalf("error %v with points %v", err, pts)
		}
		for _, p := range pts {
			if verr := v1alpha1.ValidateMetricPoint(p); verr != nil {
				t.Fatalf("parsed an invalid point %+v: %v", p, verr)
			}
			// What parses must print and parse back to the same value.
			again, ok, err := ParseLine(FormatLine(p.Step, p))
			if !ok || err != nil || len(again) != 1 || again[0] != p {
				t.Fatalf("round trip of %+v: %v %v %v", p, again, ok, err)
			}
		}
	})
}
