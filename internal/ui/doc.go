// Package ui is the web dashboard that `skiff up` serves at /ui/: an
// overview (GPUs over time, jobs by phase, queue usage with the borrowed
// share), a queue page (pending jobs in order with their reasons), a job
// page (replicas, events, live logs, metric charts), experiments (objective
// over trials, best trial, trials table), inference services (replicas,
// request rate, latency and TTFT percentiles, tokens, from the request
// log's series) and the gateway's request log with usage per namespace and
// model.
//
// It is plain HTML, CSS and JavaScript modules embedded in the binary: no
// CDN, no npm, no build step beyond `go build`. Pages read the same API as
// the CLI; the login form keeps the caller's token in an HttpOnly,
// SameSite=Strict cookie that the API accepts for reads only, so a tenant's
// token shows exactly what that tenant may read. User-controlled text is
// only ever put into the page as text (textContent), never as markup.
//
// A page is one module under assets/js/pages exporting
// render(root, params, ctx) (returning a cleanup function) plus one entry in
// the route table of assets/js/app.js.
package ui
