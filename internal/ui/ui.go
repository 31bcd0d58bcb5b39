package ui

import (
	"embed"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"strings"

	"skiff.dev/skiff/internal/apiserver"
	"skiff.dev/skiff/internal/auth"
)

//go:embed assets
var assets embed.FS

// Prefix is where the dashboard is served.
const Prefix = "/ui/"

var templates = template.Must(template.ParseFS(assets, "assets/*.html"))

// Authenticator maps a token to an identity (*auth.Tokens implements it).
type Authenticator interface {
	Authenticate(token string) (auth.Identity, bool)
}

// Handler serves the dashboard under Prefix.
type Handler struct {
	Auth    Authenticator
	Version string
	static  http.Handler
}

// New returns the dashboard handler.
func New(a Authenticator, version string) *Handler {
	sub, err := fs.Sub(assets, "assets")
	if err != nil {
		panic(err)
	}
	return &Handler{Auth: a, Version: version, static: http.StripPrefix(Prefix+"static/", http.FileServerFS(sub))}
}

// contentSecurityPolicy allows only the dashboard's own scripts, styles and
// API: an injected <script> or inline handler would not run.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Security-Policy", contentSecurityPolicy)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Referrer-Policy", "no-referrer")
	path := r.URL.Path
	switch {
	case strings.HasPrefix(path, Prefix+"static/"):
		// Scripts and styles carry no data; the login page needs them.
		w.Header().Set("Cache-Control", "no-cache")
		h.static.ServeHTTP(w, r)
	case path == Prefix+"login":
		h.login(w, r)
	case path == Prefix+"logout":
		h.logout(w, r)
	default:
		id, ok := h.identity(r)
		if !ok {
			http.Redirect(w, r, Prefix+"login?next="+url.QueryEscape(path), http.StatusSeeOther)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			http.Error(w, "the dashboard only reads: use GET", http.StatusMethodNotAllowed)
			return
		}
		who := id.Name
		if id.Admin {
			who += " (cluster-admin)"
		} else {
			who += " (" + id.Role + " in " + id.Namespace + ")"
		}
		ns := id.Namespace
		h.render(w, http.StatusOK, "index.html", map[string]string{"User": who, "Namespace": ns, "Version": h.Version})
	}
}

// identity authenticates the session cookie.
func (h *Handler) identity(r *http.Request) (auth.Identity, bool) {
	c, err := r.Cookie(apiserver.SessionCookie)
	if err != nil || c.Value == "" {
		return auth.Identity{}, false
	}
	return h.Auth.Authenticate(c.Value)
}

func (h *Handler) login(w http.ResponseWriter, r *http.Request) {
	next := safeNext(r.URL.Query().Get("next"))
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		h.render(w, http.StatusOK, "login.html", map[string]string{"Next": next})
	case http.MethodPost:
		if !sameOrigin(r) {
			http.Error(w, "login from another site refused", http.StatusForbidden)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, 8<<10)
		if err := r.ParseForm(); err != nil {
			h.render(w, http.StatusBadRequest, "login.html", map[string]string{"Next": next, "Error": "could not read the form"})
			return
		}
		token := strings.TrimSpace(r.PostForm.Get("token"))
		if _, ok := h.Auth.Authenticate(token); !ok {
			h.render(w, http.StatusUnauthorized, "login.html", map[string]string{"Next": next,
				"Error": "That token is not valid (unknown, expired or revoked). Paste a token from skiff token create, or the admin token file."})
			return
		}
		http.SetCookie(w, &http.Cookie{Name: apiserver.SessionCookie, Value: token, Path: "/", HttpOnly: true,
			SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
		http.Redirect(w, r, next, http.StatusSeeOther)
	default:
		http.Error(w, "use GET or POST", http.StatusMethodNotAllowed)
	}
}

func (h *Handler) logout(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "log out with POST", http.StatusMethodNotAllowed)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: apiserver.SessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
	http.Redirect(w, r, Prefix+"login", http.StatusSeeOther)
}

func (h *Handler) render(w http.ResponseWriter, code int, name string, data any) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = templates.ExecuteTemplate(w, name, data)
}

// safeNext keeps a post-login redirect inside the dashboard.
func safeNext(next string) string {
	if !strings.HasPrefix(next, Prefix) || strings.HasPrefix(next, Prefix+"login") || strings.ContainsAny(next, "\\\r\n") {
		return Prefix
	}
	u, err := url.Parse(next)
	if err != nil || u.Host != "" || u.Scheme != "" {
		return Prefix
	}
	return u.Path
}

// sameOrigin refuses form posts that a browser says came from another
// origin.
func sameOrigin(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" || origin == "null" {
		return r.Header.Get("Sec-Fetch-Site") == "" || r.Header.Get("Sec-Fetch-Site") == "same-origin"
	}
	u, err := url.Parse(origin)
	return err == nil && u.Host == r.Host
}
