package e2e

import (
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// pagesExperiment is a small search: four trials of examples/sweep's
// train.py, two at a time. The categorical parameter is markup that the
// trials table must show as text.
func pagesExperiment(t *testing.T) string {
	t.Helper()
	repo, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	return `apiVersion: skiff.dev/v1alpha1
kind: Experiment
metadata: {name: tune, namespace: default}
spec:
  parameters:
  - {name: lr, type: double, min: 0.02, max: 0.5, log: true}
  - {name: hidden, type: int, min: 2, max: 12}
  - {name: note, type: categorical, values: ["<img src=x id=pwned-param>", "plain"]}
  objective: {metricName: val_loss, type: minimize}
  algorithm: {name: random, seed: 3}
  parallelTrials: 2
  maxTrials: 4
  trialTemplate:
    replicaGroups:
    - name: worker
      replicas: 1
      template:
        command: ["python3", "` + repo + `/examples/sweep/train.py"]
        args: ["--epochs", "4", "--epoch-delay", "0.4", "--samples", "300", "--lr", "${params.lr}", "--hidden", "${params.hidden}"]
        env: [{name: NOTE, value: "${params.note}"}]
        resources: {cpu: 250m, memory: 128Mi}
`
}

// pagesService serves tinylm (built and trained by the test) from zero
// replicas, logging prompts so the request log shows them.
func pagesService(bin, model string) string {
	return `apiVersion: skiff.dev/v1alpha1
kind: InferenceService
metadata: {name: chat, namespace: default}
spec:
  models: [tinylm]
  queue: default
  template:
    command: ["` + bin + `", "serve", "--name", "tinylm", "--model", "` + model + `"]
    resources: {cpu: 250m, memory: 128Mi}
  minReplicas: 0
  maxReplicas: 2
  readinessProbe: {path: /health}
  autoscaling: {targetInFlight: 8, scaleToZeroAfter: 5m}
  logPrompts: true
`
}

// sendWaves sends waves[i] chat requests (every other one streamed) to
// the gateway, gap apart, and returns the first failure.
func sendWaves(gateway, token string, waves []int, gap time.Duration) error {
	client := &http.Client{Timeout: time.Minute}
	for i, n := range waves {
		time.Sleep(gap)
		for j := range n {
			body := fmt.Sprintf(`{"model":"tinylm","seed":%d,"stream":%t,"max_tokens":%d,"messages":[{"role":"user","content":"wave %d"}]}`,
				10*i+j, j%2 == 1, 10+5*j, i)
			req, err := http.NewRequest(http.MethodPost, gateway+"/v1/chat/completions", strings.NewReader(body))
			if err != nil {
				return err
			}
			req.Header.Set("Authorization", "Bearer "+token)
			req.Header.Set("Content-Type", "application/json")
			resp, err := client.Do(req)
			if err != nil {
				return err
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("wave %d request %d: %d %s", i, j, resp.StatusCode, b)
			}
		}
	}
	return nil
}

// The experiment, service and request log pages show live data: trials
// appear as they run, requests sent through the gateway appear in the
// request log and move the service's charts, markup from users stays text,
// and a tenant sees none of another namespace's requests.
func TestDashboardExperimentServiceAndRequestPages(t *testing.T) {
	t.Parallel()
	ctx := browser(t)
	dir := t.TempDir()
	bin, model := filepath.Join(dir, "tinylm"), filepath.Join(dir, "model.json")
	if out, err := exec.Command("go", "build", "-o", bin, "../../examples/serve/tinylm").CombinedOutput(); err != nil {
		t.Fatalf("building tinylm: %v\n%s", err, out)
	}
	if out, err := exec.Command(bin, "train", "--order", "5", "--out", model).CombinedOutput(); err != nil {
		t.Fatalf("training tinylm: %v\n%s", err, out)
	}
	s := startServer(t, t.TempDir(), t.TempDir())
	shots := newScreenshots(t)

	// Without a session the pages redirect to login and the API says 401.
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, p := range []string{"/ui/experiments", "/ui/experiments/default/tune", "/ui/services", "/ui/services/default/chat", "/ui/requests",
		"/apis/skiff.dev/v1alpha1/requests?series=true&namespace=default&service=chat"} {
		resp, err := noRedirect.Get(s.url + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		wantLogin := strings.HasPrefix(p, "/ui/")
		if loc := resp.Header.Get("Location"); wantLogin && (resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, "/ui/login")) ||
			!wantLogin && resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("GET %s without a session = %d to %q", p, resp.StatusCode, loc)
		}
	}

	s.mustSkiff(pagesService(bin, model), "apply", "-f", "-")
	tenant := s.newToken("--user", "carol", "--namespace", "team-c", "--role", "viewer")

	type step = chromedp.Action[chromedp.Void]
	do := func(what string, steps ...step) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			page, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`main`)))
			t.Fatalf("%s: %v\npage text: %.2000q\nserver log:\n%s", what, err, page, s.out.String())
		}
	}
	var text string
	textOf := func(sel string) string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("reading %s: %v", sel, err)
		}
		return v
	}
	count := func(sel string) int {
		t.Helper()
		n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll(`+"`"+sel+"`"+`).length`))
		if err != nil {
			t.Fatalf("counting %s: %v", sel, err)
		}
		return n
	}
	check := func(what string, cond bool) {
		t.Helper()
		if !cond {
			t.Errorf("%s (page text: %.800q)", what, text)
		}
	}
	visible := func(sel string) step { return chromedp.WaitVisible(chromedp.CSS(sel)) }
	// clickLive clicks sel in a part of a page that re-renders as data
	// arrives: the element is found and clicked in one script, where a
	// chromedp.Click could act on a node the page has just replaced
	// ("Could not find node with given id").
	clickLive := func(sel string) step {
		return chromedp.Poll[chromedp.Void](`(() => { const e = document.querySelector(`+"`"+sel+"`"+`); if (!e) return false; e.click(); return true })()`,
			chromedp.WithPollingTimeout(30*time.Second))
	}
	poll := func(expr string) step {
		return chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingTimeout(90*time.Second))
	}
	login := func(token string) []step {
		return []step{chromedp.Navigate(s.url + "/ui/"), visible(`#token`),
			chromedp.SendKeys(chromedp.CSS(`#token`), token), chromedp.Click(chromedp.CSS(`#login`)), visible(`#nav`)}
	}
	chat := func(body string) {
		t.Helper()
		if code, out := s.curl(s.token, "/v1/chat/completions", body); code != 200 {
			t.Fatalf("chat: %d %s\nserver log:\n%s", code, out, s.out.String())
		}
	}

	do("admin login", login(s.token)...)

	// The service page before any request: scaled to zero, no traffic.
	do("service page", chromedp.Navigate(s.url+"/ui/services/default/chat"), visible(`#service-charts`),
		poll(`document.querySelector('#service-charts')?.closest('.card').textContent.includes('(0 requests')`))
	// The first request through the gateway wakes the service; the page
	// shows it without a reload.
	chat(`{"model":"tinylm","seed":1,"max_tokens":30,"messages":[{"role":"user","content":"The harbor"}]}`)
	do("first request", poll(`document.querySelector('#service-charts')?.closest('.card').textContent.includes('(1 request,')`),
		poll(`document.querySelector('#service-replicas')?.textContent.startsWith('1 ready of 1')`))

	// More traffic, in waves a few seconds apart, while the experiment
	// runs.
	waves := []int{3, 6, 2, 8, 4}
	sent := 1
	for _, n := range waves {
		sent += n
	}
	traffic := make(chan error, 1)
	go func() { traffic <- sendWaves(s.gateway, s.token, waves, 2500*time.Millisecond) }()

	// An experiment applied while its list is open appears there; its page
	// fills in as the trials run: every trial, a best trial with its
	// parameters, a dot per trial with an objective and the best-so-far
	// line, and each trial's curve.
	do("experiment list", chromedp.Navigate(s.url+"/ui/experiments"), visible(`#experiments`))
	s.mustSkiff(pagesExperiment(t), "apply", "-f", "-")
	do("experiment appears", visible(`#experiments tr[data-experiment="tune"]`))
	do("experiment page", clickLive(`#experiments tr[data-experiment="tune"] a`), visible(`#trials`),
		poll(`document.querySelectorAll('#trials tr[data-trial]').length === 4 && document.querySelector('#exp-phase')?.textContent.includes('Succeeded')`),
		poll(`document.querySelectorAll('#objective-chart circle.dot').length === 4`),
		poll(`document.querySelectorAll('#trial-curves path.series').length === 4`),
		shots.take("dashboard-experiment"))
	text = textOf(`main`)
	check("best trial and its parameters", strings.Contains(textOf(`#best-trial`), "val_loss = ") && count(`#best-params tbody tr`) == 3 && count(`#trials tr.best`) == 1)
	check("the objective chart has a best-so-far line", count(`#objective-chart path.series`) == 1)
	check("markup in a parameter value is text", strings.Contains(text, "<img src=x id=pwned-param>") && count(`#pwned-param, main img`) == 0)

	// The best-so-far line follows the objective's direction and skips
	// trials that did not succeed, as the controller does.
	best, err := chromedp.Run(ctx, chromedp.Evaluate[string](`import('/ui/static/js/pages/experiment.js').then(m => JSON.stringify([
		m.bestSoFar([{state: 'Succeeded', objective: 0.5}, {state: 'EarlyStopped', objective: 0.9}, {state: 'Succeeded', objective: 0.7},
			{state: 'Succeeded', objective: 0.6}], 'maximize').map(p => p.y),
		m.bestSoFar([{state: 'Running', objective: 0.1}, {state: 'Succeeded', objective: 0.4}, {state: 'Succeeded', objective: 0.3}], 'minimize').map(p => p.x)]))`,
		chromedp.EvalAwaitPromise))
	if err != nil || best != "[[0.5,0.5,0.7,0.7],[2,3]]" {
		t.Errorf("bestSoFar = %s, %v", best, err)
	}
	do("experiment list again", chromedp.Navigate(s.url+"/ui/experiments"), visible(`#experiments tr[data-experiment="tune"]`),
		shots.take("dashboard-experiments"))
	text = textOf(`#experiments`)
	check("experiment list row", strings.Contains(text, "4 / 4") && strings.Contains(text, "val_loss"))

	// Every request shows on the service page: its charts, recent requests
	// and the scale-up from zero.
	if err := <-traffic; err != nil {
		t.Fatalf("traffic: %v", err)
	}
	do("service charts move", chromedp.Navigate(s.url+"/ui/services/default/chat"),
		poll(`document.querySelector('#service-charts')?.closest('.card').textContent.includes('(`+strconv.Itoa(sent)+` requests,')`),
		poll(`document.querySelectorAll('[data-chart="latency"] path.series').length === 4`),
		// The desired replicas step from 0 to 1 (the autoscaler's event).
		poll(`new Set([...(document.querySelector('[data-chart="replicas"] path[data-name^="desired"]')?.getAttribute('d') || '')
			.matchAll(/(?:M[\d.]+ |V)([\d.]+)/g)].map(m => m[1])).size === 2`),
		poll(`document.querySelectorAll('[data-chart="rate"] path.series').length === 2`),
		poll(`document.querySelectorAll('#service-requests tr[data-request]').length === 10`),
		// The last minute, in buckets of 2 s.
		chromedp.Evaluate[chromedp.Void](`(w => { w.value = '0'; w.dispatchEvent(new Event('change')); })(document.querySelector('#window'))`),
		poll(`document.querySelector('#service-charts')?.closest('.card').textContent.includes('last minute (`+strconv.Itoa(sent)+` requests, buckets of 2s')`),
		shots.take("dashboard-service"))
	text = textOf(`main`)
	check("scale-up event shown", strings.Contains(textOf(`#events`), "replicas 0 -> 1"))
	check("replica listed", strings.Contains(textOf(`#service-replica-table`), "chat-0"))

	do("service list", chromedp.Navigate(s.url+"/ui/services"), visible(`#services tr[data-service="chat"]`), shots.take("dashboard-services"))
	text = textOf(`#services`)
	check("service list row", strings.Contains(text, "tinylm") && strings.Contains(text, "1/1"))

	// The request log: every request, usage per namespace and model, and a
	// request made while the page is open appears; its prompt (markup) is
	// text.
	rows := func(n int) string {
		return `!!document.querySelector('#requests') && document.querySelectorAll('#requests tr[data-request]').length === ` + strconv.Itoa(n)
	}
	do("request log", chromedp.Navigate(s.url+"/ui/requests"), poll(rows(sent)))
	chat(`{"model":"tinylm","max_tokens":5,"messages":[{"role":"user","content":"<script>document.title='pwned'</script><img src=x id=pwned-prompt>"}]}`)
	do("request appears live", poll(rows(sent+1)),
		clickLive(`#requests details summary`), shots.take("dashboard-requests"))
	text = textOf(`main`)
	check("usage summed per namespace and model", strings.Contains(textOf(`#usage tr[data-usage="default/tinylm"]`), strconv.Itoa(sent+1)))
	check("prompt shown as text", strings.Contains(text, "<img src=x id=pwned-prompt>") && count(`#pwned-prompt, main img, main script`) == 0)
	if title, _ := chromedp.Run(ctx, chromedp.Title()); title == "pwned" {
		t.Error("a script from a prompt ran")
	}
	check("key and model shown", strings.Contains(textOf(`#requests`), "admin") && strings.Contains(textOf(`#requests`), "tinylm"))

	// Filters: a model nobody called selects nothing, and the filter is in
	// the URL.
	do("filter", chromedp.SendKeys(chromedp.CSS(`#model`), "nope"), chromedp.Click(chromedp.CSS(`#filters button`)),
		poll(`document.querySelectorAll('#requests tr[data-request]').length === 0 && location.search.includes('model=nope')`))
	do("filter by namespace", chromedp.Navigate(s.url+"/ui/requests?namespace=default&model=tinylm"),
		poll(rows(sent+1)))
	do("filter by service", chromedp.Navigate(s.url+"/ui/requests?service=other"), poll(rows(0)),
		chromedp.Navigate(s.url+"/ui/services/default/chat"), visible(`#all-requests`), clickLive(`#all-requests`),
		visible(`#filters`), poll(`location.search.includes('service=chat')`), poll(rows(sent+1)))

	// A tenant of another namespace sees none of default's requests, and
	// naming default is refused.
	do("log out", chromedp.Click(chromedp.CSS(`header form button`)), visible(`#token`))
	do("tenant login", login(tenant)...)
	do("tenant request log", chromedp.Navigate(s.url+"/ui/requests"), visible(`#usage`), visible(`#requests`))
	text = textOf(`main`)
	check("tenant sees no other namespace's requests", count(`#requests tr[data-request]`) == 0 && !strings.Contains(text, "tinylm"))
	do("tenant names default", chromedp.Navigate(s.url+"/ui/requests?namespace=default"), visible(`#requests-error`))
	text = textOf(`#requests-error`)
	check("forbidden for the tenant", strings.Contains(text, "forbidden") || strings.Contains(text, "cannot"))
	do("tenant service list", chromedp.Navigate(s.url+"/ui/services"), visible(`#services`))
	text = textOf(`#services`)
	check("tenant sees no other namespace's services", !strings.Contains(text, "chat"))
	if got := shots.count(); got != 5 {
		t.Errorf("%d screenshots written, want one per page (5)", got)
	}
}
