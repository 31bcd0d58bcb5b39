package ui

import (
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"skiff.dev/skiff/internal/apiserver"
	"skiff.dev/skiff/internal/auth"
)

const token = "skf_test-tenant"

func newHandler() *Handler {
	tokens := auth.NewTokens("skf_test-admin")
	tokens.Add(token, auth.Identity{Name: "<b>alice</b>", Namespace: "team-a", Role: "viewer"})
	return New(tokens, "v-test")
}

func serve(h http.Handler, req *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestPagesRedirectToLoginWithoutASession(t *testing.T) {
	h := newHandler()
	for _, p := range []string{"/ui/", "/ui/jobs/a/b", "/ui/queues/q", "/ui/experiments", "/ui/experiments/a/b", "/ui/services", "/ui/services/a/b", "/ui/requests"} {
		rec := serve(h, httptest.NewRequest("GET", p, nil))
		if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/ui/login?next="+url.QueryEscape(p) {
			t.Errorf("GET %s = %d to %q", p, rec.Code, rec.Header().Get("Location"))
		}
		req := httptest.NewRequest("GET", p, nil)
		req.AddCookie(&http.Cookie{Name: apiserver.SessionCookie, Value: "skf_revoked"})
		if rec := serve(h, req); rec.Code != http.StatusSeeOther {
			t.Errorf("GET %s with an unknown token = %d, want a redirect to login", p, rec.Code)
		}
	}
}

func TestLoginSetsAStrictHttpOnlyCookie(t *testing.T) {
	h := newHandler()
	form := strings.NewReader(url.Values{"token": {token}}.Encode())
	req := httptest.NewRequest("POST", "/ui/login?next=/ui/jobs/team-a/x", form)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "http://example.com")
	rec := serve(h, req)
	if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/ui/jobs/team-a/x" {
		t.Fatalf("login = %d to %q: %s", rec.Code, rec.Header().Get("Location"), rec.Body)
	}
	cookies := rec.Result().Cookies()
	if len(cookies) != 1 {
		t.Fatalf("cookies = %v", cookies)
	}
	c := cookies[0]
	if c.Name != apiserver.SessionCookie || c.Value != token || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/" {
		t.Errorf("cookie = %+v", c)
	}

	page := httptest.NewRequest("GET", "/ui/", nil)
	page.AddCookie(c)
	rec = serve(h, page)
	body := rec.Body.String()
	if rec.Code != 200 || !strings.Contains(body, "&lt;b&gt;alice&lt;/b&gt; (viewer in team-a)") || strings.Contains(body, "<b>alice") {
		t.Errorf("page = %d, user name not escaped:\n%s", rec.Code, body)
	}
	if csp := rec.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe") {
		t.Errorf("CSP = %q", csp)
	}
}

func TestLoginRefusals(t *testing.T) {
	h := newHandler()
	post := func(tok, origin, next string) *httptest.ResponseRecorder {
		req := httptest.NewRequest("POST", "/ui/login?next="+url.QueryEscape(next), strings.NewReader(url.Values{"token": {tok}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		return serve(h, req)
	}
	if rec := post("skf_wrong", "", "/ui/"); rec.Code != http.StatusUnauthorized || !strings.Contains(rec.Body.String(), "not valid") || len(rec.Result().Cookies()) != 0 {
		t.Errorf("bad token = %d, cookies %v", rec.Code, rec.Result().Cookies())
	}
	if rec := post(token, "http://evil.example", "/ui/"); rec.Code != http.StatusForbidden || len(rec.Result().Cookies()) != 0 {
		t.Errorf("cross-site login = %d", rec.Code)
	}
	for _, next := range []string{"https://evil.example/", "//evil.example/ui/", "/apis/x", "/ui/login", "/ui/\\evil"} {
		if rec := post(token, "", next); rec.Header().Get("Location") != "/ui/" {
			t.Errorf("next=%q redirected to %q, want /ui/", next, rec.Header().Get("Location"))
		}
	}
	// The login page escapes what it echoes.
	rec := serve(h, httptest.NewRequest("GET", "/ui/login?next=/ui/%22%3E%3Cscript%3E", nil))
	if strings.Contains(rec.Body.String(), "<script>") {
		t.Errorf("login page echoes markup:\n%s", rec.Body)
	}
}

func TestLogoutClearsTheCookie(t *testing.T) {
	h := newHandler()
	if rec := serve(h, httptest.NewRequest("GET", "/ui/logout", nil)); rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("GET /ui/logout = %d", rec.Code)
	}
	rec := serve(h, httptest.NewRequest("POST", "/ui/logout", nil))
	c := rec.Result().Cookies()
	if rec.Code != http.StatusSeeOther || len(c) != 1 || c[0].MaxAge >= 0 || c[0].Value != "" {
		t.Errorf("logout = %d, cookies %+v", rec.Code, c)
	}
}

func TestAssetsAreEmbedded(t *testing.T) {
	h := newHandler()
	for _, p := range []string{"/ui/static/js/app.js", "/ui/static/js/pages/job.js", "/ui/static/js/pages/experiment.js", "/ui/static/js/pages/service.js", "/ui/static/js/pages/requests.js", "/ui/static/js/charts.js", "/ui/static/style.css", "/ui/static/logo.svg"} {
		rec := serve(h, httptest.NewRequest("GET", p, nil))
		body, _ := io.ReadAll(rec.Body)
		if rec.Code != 200 || len(body) == 0 {
			t.Errorf("GET %s = %d (%d bytes)", p, rec.Code, len(body))
		}
	}
	// No asset builds markup from strings.
	scripts, err := fs.Glob(assets, "assets/js/*.js")
	if err != nil {
		t.Fatal(err)
	}
	pages, err := fs.Glob(assets, "assets/js/pages/*.js")
	if err != nil {
		t.Fatal(err)
	}
	if len(scripts) < 4 || len(pages) < 6 {
		t.Fatalf("found scripts %v and pages %v", scripts, pages)
	}
	for _, p := range append(scripts, pages...) {
		src, err := assets.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		for _, bad := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("} {
			if strings.Contains(string(src), bad) {
				t.Errorf("%s uses %s", p, bad)
			}
		}
	}
}
