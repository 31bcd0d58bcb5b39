package e2e

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// browser starts headless Chromium (the Debian package) with a fresh
// profile and returns a chromedp context for one tab.
func browser(t *testing.T) context.Context {
	t.Helper()
	bin := lookPathOrSkip(t, "chromium")
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(bin),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1366, 900),
	}
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelB := chromedp.NewContext(actx)
	ctx, cancelT := context.WithTimeout(ctx, 3*time.Minute)
	t.Cleanup(func() { cancelT(); cancelB(); cancelA() })
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	return ctx
}

// screenshots go under the test's temp dir (counted there), and are kept
// in $SKIFF_SCREENSHOT_DIR, by default out/screenshots at the repository
// root, which outlives the run (git ignores it).
type screenshots struct {
	t    *testing.T
	dirs []string
}

func newScreenshots(t *testing.T) *screenshots {
	keep := os.Getenv("SKIFF_SCREENSHOT_DIR")
	if keep == "" {
		keep = filepath.Join("..", "..", "out", "screenshots")
	}
	dirs := []string{filepath.Join(t.TempDir(), "screenshots"), keep}
	for _, d := range dirs {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return &screenshots{t: t, dirs: dirs}
}

func (s *screenshots) take(name string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		png, err := chromedp.FullScreenshot(100)(ctx, t)
		if err != nil {
			return err
		}
		for _, d := range s.dirs {
			if err := os.WriteFile(filepath.Join(d, name+".png"), png, 0o644); err != nil {
				return err
			}
		}
		s.t.Logf("screenshot %s (%d bytes) in %s", name, len(png), s.dirs[1])
		return nil
	})
}

func (s *screenshots) count() int {
	entries, _ := os.ReadDir(s.dirs[0])
	return len(entries)
}

// hostileJob's name is plain (names are validated) but its log output,
// labels and command are markup that must show as text.
const hostileJob = `apiVersion: skiff.dev/v1alpha1
kind: Job
metadata:
  name: xss
  namespace: default
  labels: {team: "a"}
spec:
  replicaGroups:
  - name: worker
    template:
      command: ["sh", "-c", "echo '<img src=x id=pwned>'; echo '<script>document.title=\"pwned\"</script>'; for i in 1 2 3; do echo step $i loss 0.$((9-i)); done"]
`

func gpuJob(name, sleep string) string {
	return `apiVersion: skiff.dev/v1alpha1
kind: Job
metadata: {name: ` + name + `, namespace: default}
spec:
  replicaGroups:
  - name: worker
    template:
      command: ["sh", "-c", "echo training; sleep ` + sleep + `"]
      resources: {gpu: 2}
`
}

// curveJob reports a falling loss and a rising accuracy over 40 steps
// through metric log lines, once the file start exists, then keeps running.
func curveJob(start string) string {
	return `apiVersion: skiff.dev/v1alpha1
kind: Job
metadata: {name: curve, namespace: default}
spec:
  replicaGroups:
  - name: worker
    template:
      command: ["python3", "-c", "import math, os, time\nwhile not os.path.exists('` + start + `'): time.sleep(0.1)\nfor s in range(40):\n    print(f'skiff:metric loss={2.3*math.exp(-s/12)+0.1:.4f} accuracy={1-math.exp(-s/10):.4f} step={s}', flush=True)\n    time.sleep(0.02)\ntime.sleep(600)\n"]
`
}

func TestDashboardInChromium(t *testing.T) {
	t.Parallel()
	ctx := browser(t)
	s := startServer(t, t.TempDir(), t.TempDir(), "--gpu-sample-interval", "300ms")
	shots := newScreenshots(t)

	// Unauthenticated pages redirect to the login page; the API says 401.
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, p := range []string{"/ui/", "/ui/jobs/default/xss", "/ui/queues/default"} {
		resp, err := noRedirect.Get(s.url + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, "/ui/login") {
			t.Errorf("GET %s without a session = %d to %q, want 303 to the login page", p, resp.StatusCode, loc)
		}
	}

	s.mustSkiff(hostileJob, "apply", "-f", "-")
	s.waitPhase("default", "xss", "Succeeded", 60*time.Second)
	s.mustSkiff(gpuJob("holder", "600"), "apply", "-f", "-")
	s.waitPhase("default", "holder", "Running", 60*time.Second)
	s.mustSkiff(gpuJob("waiter", "1"), "apply", "-f", "-")
	tenant := s.newToken("--user", "bob", "--namespace", "team-b", "--role", "viewer")
	s.mustSkiff(jobYAML("team-b", "bobs-job", ""), "apply", "-f", "-")

	type step = chromedp.Action[chromedp.Void]
	do := func(what string, steps ...step) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	textOf := func(sel string) string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("reading %s: %v", sel, err)
		}
		return v
	}
	eval := func(expr string) int {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Evaluate[int](expr, chromedp.EvalAwaitPromise))
		if err != nil {
			t.Fatalf("evaluating %s: %v", expr, err)
		}
		return v
	}
	visible := func(sel string) step { return chromedp.WaitVisible(chromedp.CSS(sel)) }
	poll := func(expr string) step {
		return chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingTimeout(60*time.Second))
	}
	login := func(token string) []step {
		return []step{
			chromedp.Navigate(s.url + "/ui/"),
			visible(`#token`),
			chromedp.SendKeys(chromedp.CSS(`#token`), token),
			chromedp.Click(chromedp.CSS(`#login`)),
		}
	}
	var text string
	check := func(what string, cond bool) {
		t.Helper()
		if !cond {
			t.Errorf("%s (page text: %.600q)", what, text)
		}
	}

	// A bad token stays on the login page with an error.
	do("bad login", append(login("skf_not-a-token"), visible(`#login-error`), shots.take("login-error"))...)
	text = textOf(`#login-error`)
	check("bad token error", strings.Contains(text, "not valid"))

	// The admin sees the overview: GPUs, phases, queues, jobs.
	do("admin login", append(login(s.token), visible(`#phases`), visible(`#queues`), visible(`#jobs tr[data-job="holder"]`))...)
	text = textOf(`main`)
	check("GPU summary", strings.Contains(text, "2 of 2 GPUs allocated"))
	check("no-GPU state explained", strings.Contains(text, "no GPUs detected: 2 GPUs declared with --gpus"))
	check("admin sees team-b's job", strings.Contains(text, "bobs-job"))

	// A job created now appears without a reload (watch).
	s.mustSkiff(jobYAML("default", "live-one", ""), "apply", "-f", "-")
	do("live job", visible(`#jobs tr[data-job="live-one"]`),
		poll(`document.querySelector('svg.chart path.series')?.getAttribute('d')?.split('L').length > 2`),
		shots.take("overview"))

	// Queue page: the waiting job with its reason.
	do("queue page", chromedp.Navigate(s.url+"/ui/queues/default"),
		visible(`#pending tr[data-job="waiter"]`), visible(`#admitted tr[data-job="holder"]`), shots.take("queue"))
	text = textOf(`#pending`)
	check("waiting reason shown", strings.Contains(text, "waiting for") && strings.Contains(text, "position 1 in queue default"))

	// Job page: replicas, events, logs; markup in logs stays text.
	do("job page", chromedp.Navigate(s.url+"/ui/jobs/default/xss"), visible(`#replicas`),
		poll(`document.querySelector('#logs')?.textContent.includes('step 3 loss')`),
		poll(`document.querySelector('#events')?.textContent.includes('Succeeded')`),
		shots.take("job"))
	text = textOf(`#logs`)
	check("log markup shown as text", strings.Contains(text, "<img src=x id=pwned>") && strings.Contains(text, "<script>"))
	if n := eval(`document.querySelectorAll('#pwned, main script, main img').length`); n != 0 {
		t.Errorf("markup from logs became %d elements", n)
	}
	if title, _ := chromedp.Run(ctx, chromedp.Title()); title == "pwned" {
		t.Error("a script from the logs ran")
	}

	// A running job's logs follow live.
	do("running job page", chromedp.Navigate(s.url+"/ui/jobs/default/holder"),
		poll(`document.querySelector('#logs')?.textContent.includes('training')`),
		poll(`document.querySelector('#replicas')?.textContent.includes('holder-worker-0-0')`))
	text = textOf(`#replicas`)
	check("replica placement shown", strings.Contains(text, "0,1"))

	// A job's loss curve from its own log lines: the page is open before
	// the job reports anything and the chart fills in without a reload.
	go_ := filepath.Join(t.TempDir(), "go")
	s.mustSkiff(curveJob(go_), "apply", "-f", "-")
	s.waitPhase("default", "curve", "Running", 60*time.Second)
	pointsOf := func(metric string) string {
		return `(document.querySelector('.metric-chart path.series[data-name="` + metric + `"]')?.getAttribute('d') || '').split('L').length`
	}
	do("curve page", chromedp.Navigate(s.url+"/ui/jobs/default/curve"), visible(`.metric-chart`))
	if n := eval(`document.querySelectorAll('.metric-chart path.series').length`); n != 0 {
		t.Fatalf("curve job's chart has %d lines before it reported anything", n)
	}
	if err := os.WriteFile(go_, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	do("curve fills in live", poll(pointsOf("loss")+` === 40 && `+pointsOf("accuracy")+` === 40`), shots.take("job-metrics"))
	text = textOf(`.metric-chart .legend`)
	check("both metrics in the legend", strings.Contains(text, "loss") && strings.Contains(text, "accuracy"))

	// The metric chart component draws one line per metric name and shows
	// names as text (on a finished job's page, which is not redrawn).
	do("finished job page", chromedp.Navigate(s.url+"/ui/jobs/default/xss"), visible(`.metric-chart`))
	n := eval(`import('/ui/static/js/charts.js').then(m => {
		const pts = [];
		const t0 = Date.now();
		for (let s = 0; s <= 50; s++) {
			pts.push({name: 'loss', step: s, value: 2.3 * Math.exp(-s / 15) + 0.1, time: new Date(t0 + s * 1000).toISOString()});
			pts.push({name: 'accuracy', step: s, value: 1 - Math.exp(-s / 12), time: new Date(t0 + s * 1000).toISOString()});
		}
		pts.push({name: '<b>evil</b>', step: 3, value: 0.5, time: ''});
		document.querySelector('.metric-chart').replaceWith(m.metricChart(pts, {title: 'loss'}));
		return document.querySelectorAll('.metric-chart path.series').length;
	})`)
	if n != 3 {
		t.Errorf("metric chart drew %d lines, want 3 (loss, accuracy, and the odd name)", n)
	}
	text = textOf(`.metric-chart .legend`)
	check("odd metric name shown as text", strings.Contains(text, "<b>evil</b>") && eval(`document.querySelectorAll('.metric-chart b').length`) == 0)

	// A tenant sees only its namespace.
	do("log out", chromedp.Navigate(s.url+"/ui/"), visible(`header form button`), chromedp.Click(chromedp.CSS(`header form button`)), visible(`#token`))
	do("tenant login", append(login(tenant), visible(`#jobs tr[data-job="bobs-job"]`), shots.take("overview-tenant"))...)
	text = textOf(`main`)
	check("tenant sees no other namespace's jobs", !strings.Contains(text, "holder") && !strings.Contains(text, "xss"))
	check("tenant sees GPUs allocated but not by whom", strings.Contains(text, "2 of 2 GPUs allocated") && !strings.Contains(text, "holder-worker"))

	if got := shots.count(); got < 6 {
		t.Errorf("%d screenshots written, want one per page state (6)", got)
	}
}
