package ui

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/charmbracelet/log"

	"github.com/modelgate/modelgate/agents/assistant"
	"github.com/modelgate/modelgate/internal/approval"
	"github.com/modelgate/modelgate/internal/audit"
	"github.com/modelgate/modelgate/internal/auth"
	"github.com/modelgate/modelgate/internal/oversight"
	"github.com/modelgate/modelgate/internal/store"
)

// Options configures the reviewers' page.
type Options struct {
	Store  store.Store
	Queue  *approval.Queue
	Engine *oversight.Engine // authorizes reads and votes; nil = any signed-in user may read, the queue's group rules still apply
	// Authenticate maps an API token to a principal (auth.Authenticator.Lookup).
	Authenticate func(token string) (auth.Principal, bool)
	// Identify returns a session subject's current principal
	// (auth.Authenticator.Identify), asked on every request: a subject
	// without a token any more is signed out at once.
	Identify   func(subject string) (auth.Principal, bool)
	SessionKey []byte // HMAC key for session cookies, at least 32 bytes
	BasePath   string // default "/ui"
	SessionTTL time.Duration
	Now        func() time.Time
	Logger     *log.Logger
	Recorder   audit.Recorder // audit trail for refused forms and sign-ins; nil records nothing
}

const (
	sessionCookie = "modelgate_session"
	loginCookie   = "modelgate_login_csrf"
	maxForm       = 64 << 10
)

type server struct {
	o    Options
	tmpl map[string]*template.Template
	mux  *http.ServeMux
}

// New returns the reviewers' page as an http.Handler serving everything
// under BasePath.
func New(o Options) (http.Handler, error) {
	switch {
	case o.Store == nil:
		return nil, errors.New("ui: Options.Store is required")
	case o.Queue == nil:
		return nil, errors.New("ui: Options.Queue is required")
	case o.Authenticate == nil:
		return nil, errors.New("ui: Options.Authenticate is required")
	case o.Identify == nil:
		return nil, errors.New("ui: Options.Identify is required")
	case len(o.SessionKey) < 32:
		return nil, fmt.Errorf("ui: Options.SessionKey must be at least 32 bytes, got %d", len(o.SessionKey))
	}
	if o.BasePath == "" {
		o.BasePath = "/ui"
	}
	o.BasePath = "/" + strings.Trim(o.BasePath, "/")
	if o.SessionTTL <= 0 {
		o.SessionTTL = 12 * time.Hour
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = log.Default()
	}
	t, err := parseTemplates(o.BasePath)
	if err != nil {
		return nil, err
	}
	s := &server{o: o, tmpl: t, mux: http.NewServeMux()}
	b := o.BasePath
	s.mux.HandleFunc("GET "+b+"/static/style.css", s.style)
	s.mux.HandleFunc("GET "+b+"/login", s.loginForm)
	s.mux.HandleFunc("POST "+b+"/login", s.login)
	s.mux.HandleFunc("POST "+b+"/logout", s.authed(s.logout))
	s.mux.HandleFunc("GET "+b+"/{$}", s.authed(func(w http.ResponseWriter, r *http.Request, _ session) {
		http.Redirect(w, r, b+"/runs", http.StatusSeeOther)
	}))
	s.mux.HandleFunc("GET "+b+"/runs", s.authed(s.runs))
	s.mux.HandleFunc("GET "+b+"/runs/{id}", s.authed(s.run))
	s.mux.HandleFunc("GET "+b+"/runs/{id}/reports/{stage}/{file}", s.authed(s.reportFile))
	s.mux.HandleFunc("GET "+b+"/approvals", s.authed(s.approvals))
	s.mux.HandleFunc("GET "+b+"/monitor", s.authed(s.monitorPage))
	s.mux.HandleFunc("POST "+b+"/approvals/{id}/{action}", s.authed(s.decide))
	s.registryRoutes(b) // registry.go
	return s, nil
}

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	// No scripts at all: the page works with forms and links only.
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Cache-Control", "no-store")
	s.mux.ServeHTTP(w, r)
}

type authedHandler func(w http.ResponseWriter, r *http.Request, sess session)

// authed requires a valid session; POSTs must also carry its CSRF token.
func (s *server) authed(h authedHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c, err := r.Cookie(sessionCookie)
		var sess session
		if err == nil {
			sess, err = decodeSession(s.o.SessionKey, c.Value, s.o.Now())
		}
		if err == nil {
			var live bool
			if sess, live, err = s.current(r, sess); err != nil {
				// Fail closed: without the server's word a session is not live.
				s.internal(w, r, nil, err)
				return
			}
			if !live {
				err = errBadSession
			}
		}
		if err != nil {
			if r.Method != http.MethodGet {
				s.fail(w, r, nil, http.StatusUnauthorized, "Your session has expired or is invalid. Sign in again.")
				return
			}
			http.Redirect(w, r, s.o.BasePath+"/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
			return
		}
		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, maxForm)
			if err := r.ParseForm(); err != nil {
				s.fail(w, r, &sess, http.StatusBadRequest, "The form could not be read: "+err.Error())
				return
			}
			if !sameToken(r.PostForm.Get("csrf"), sess.CSRF) {
				s.o.Logger.Warn("ui: form without a valid CSRF token refused", "subject", sess.Subject, "path", r.URL.Path)
				s.record(r.Context(), "ui.csrf_refused", sess.Subject, map[string]any{"path": r.URL.Path, "remote": r.RemoteAddr})
				s.fail(w, r, &sess, http.StatusForbidden, "This form is missing its security token (CSRF). Reload the page and try again.")
				return
			}
		}
		h(w, r, sess)
	}
}

// current checks a signed session against the server's state: not ended
// by a sign-out, issued in the current epoch, and its subject still one
// of the identities. It returns the session with the subject's current
// roles and groups, so that a reviewer moved out of a group loses the
// right at once too.
func (s *server) current(r *http.Request, sess session) (session, bool, error) {
	st, err := s.o.Store.SessionState(r.Context(), sess.ID)
	if err != nil {
		return sess, false, fmt.Errorf("check session of %s: %w", sess.Subject, err)
	}
	if st.Ended || st.Epoch != sess.Epoch {
		return sess, false, nil
	}
	p, ok := s.o.Identify(sess.Subject)
	if !ok {
		s.o.Logger.Warn("ui: session of a revoked identity refused", "subject", sess.Subject, "path", r.URL.Path)
		s.record(r.Context(), "ui.session_revoked", sess.Subject, map[string]any{"path": r.URL.Path, "remote": r.RemoteAddr})
		return sess, false, nil
	}
	sess.Roles, sess.Groups = p.Roles, p.Groups
	return sess, true, nil
}

func (s *server) cookie(r *http.Request, name, value string, maxAge int) *http.Cookie {
	return &http.Cookie{
		Name: name, Value: value, Path: s.o.BasePath, MaxAge: maxAge,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil,
	}
}

func (s *server) loginForm(w http.ResponseWriter, r *http.Request) {
	// Login CSRF: a double-submit token, since there is no session yet.
	tok := randomToken()
	http.SetCookie(w, s.cookie(r, loginCookie, tok, 600))
	s.render(w, http.StatusOK, "login", page{Title: "Sign in", CSRF: tok, Next: safeNext(s.o.BasePath, r.URL.Query().Get("next"))})
}

func (s *server) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	if err := r.ParseForm(); err != nil {
		s.fail(w, r, nil, http.StatusBadRequest, "The form could not be read: "+err.Error())
		return
	}
	c, err := r.Cookie(loginCookie)
	if err != nil || !sameToken(c.Value, r.PostForm.Get("csrf")) {
		s.fail(w, r, nil, http.StatusForbidden, "This form is missing its security token (CSRF). Reload the sign-in page and try again.")
		return
	}
	next := safeNext(s.o.BasePath, r.PostForm.Get("next"))
	p, ok := s.o.Authenticate(strings.TrimSpace(r.PostForm.Get("token")))
	if !ok || p.Subject == "" {
		s.o.Logger.Warn("ui: sign-in with an unknown token")
		s.record(r.Context(), "ui.login_failed", "", map[string]any{"remote": r.RemoteAddr})
		tok := randomToken()
		http.SetCookie(w, s.cookie(r, loginCookie, tok, 600))
		s.render(w, http.StatusUnauthorized, "login", page{Title: "Sign in", CSRF: tok, Next: next, Error: "That token is not valid."})
		return
	}
	id := randomToken()
	st, err := s.o.Store.SessionState(r.Context(), id)
	if err != nil {
		s.internal(w, r, nil, fmt.Errorf("start session: %w", err))
		return
	}
	v, err := encodeSession(s.o.SessionKey, session{ID: id, Epoch: st.Epoch, Subject: p.Subject, Roles: p.Roles, Groups: p.Groups,
		CSRF: randomToken(), Expires: s.o.Now().Add(s.o.SessionTTL)})
	if err != nil {
		s.fail(w, r, nil, http.StatusInternalServerError, "Could not start a session.")
		return
	}
	http.SetCookie(w, s.cookie(r, sessionCookie, v, int(s.o.SessionTTL/time.Second)))
	http.SetCookie(w, s.cookie(r, loginCookie, "", -1))
	s.o.Logger.Info("ui: signed in", "subject", p.Subject)
	s.record(r.Context(), "ui.login", p.Subject, map[string]any{"remote": r.RemoteAddr})
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (s *server) logout(w http.ResponseWriter, r *http.Request, sess session) {
	// Deleting the cookie only asks the browser; a copy of it (another
	// tab's, a stolen one) stays valid unless the server ends the session.
	if err := s.o.Store.SessionEnd(r.Context(), sess.ID, sess.Expires); err != nil {
		s.internal(w, r, &sess, fmt.Errorf("sign out %s: %w", sess.Subject, err))
		return
	}
	s.record(r.Context(), "ui.logout", sess.Subject, map[string]any{"remote": r.RemoteAddr})
	http.SetCookie(w, s.cookie(r, sessionCookie, "", -1))
	http.Redirect(w, r, s.o.BasePath+"/login", http.StatusSeeOther)
}

// safeNext keeps redirects after sign-in on our own pages.
func safeNext(base, next string) string {
	if next == "" || !strings.HasPrefix(next, base+"/") || strings.HasPrefix(next, "//") || strings.Contains(next, "\\") {
		return base + "/runs"
	}
	return next
}

// can asks the policy engine; without an engine, signed-in users may read.
func (s *server) can(ctx context.Context, sess session, action, model, env string) (bool, error) {
	if s.o.Engine == nil {
		return action == "read", nil
	}
	return s.o.Engine.Authorize(ctx, oversight.AuthzInput{Principal: sess.principal(), Action: action, Model: model, Environment: env})
}

func (s *server) runs(w http.ResponseWriter, r *http.Request, sess session) {
	ok, err := s.can(r.Context(), sess, "read", "", "")
	if err != nil || !ok {
		s.fail(w, r, &sess, http.StatusForbidden, "You may not read runs.")
		return
	}
	p := store.RunListParams{Limit: 200, Model: r.URL.Query().Get("model")}
	if st := r.URL.Query().Get("state"); st != "" {
		p.States = []store.RunState{store.RunState(st)}
	}
	runs, err := s.o.Store.RunList(r.Context(), p)
	if err != nil {
		s.internal(w, r, &sess, err)
		return
	}
	s.render(w, http.StatusOK, "runs", page{Title: "Runs", Session: &sess, Runs: runs, States: store.AllRunStates, Filter: r.URL.Query().Get("state")})
}

// readableRun is the run the URL names when the session may read it;
// otherwise it has answered (404, 403 or 500) and ok is false.
func (s *server) readableRun(w http.ResponseWriter, r *http.Request, sess *session) (store.Run, bool) {
	run, err := s.o.Store.RunGet(r.Context(), r.PathValue("id"))
	if errors.Is(err, store.ErrNotFound) {
		s.fail(w, r, sess, http.StatusNotFound, "There is no run with that id.")
		return run, false
	}
	if err != nil {
		s.internal(w, r, sess, err)
		return run, false
	}
	if ok, err := s.can(r.Context(), *sess, "read", run.Model, run.Environment); err != nil || !ok {
		s.fail(w, r, sess, http.StatusForbidden, "You may not read this run.")
		return run, false
	}
	return run, true
}

func (s *server) run(w http.ResponseWriter, r *http.Request, sess session) {
	run, ok := s.readableRun(w, r, &sess)
	if !ok {
		return
	}
	stages, err := s.o.Store.StageList(r.Context(), run.ID)
	if err != nil {
		s.internal(w, r, &sess, err)
		return
	}
	approvals, err := s.o.Queue.List(r.Context(), store.ApprovalListParams{RunID: run.ID})
	if err != nil {
		s.internal(w, r, &sess, err)
		return
	}
	view := runView{Run: run, Approvals: s.approvalViews(r.Context(), sess, approvals)}
	for _, st := range assistant.WithoutRecord(stages) {
		view.Stages = append(view.Stages, newStageView(st))
	}
	view.Evidence = newEvidence(view.Stages)
	if view.Brief, view.Triage, view.Usage, err = assistant.View(r.Context(), s.o.Store, run); err != nil {
		s.o.Logger.Error("ui: brief", "run", run.ID, "err", err) // the page still shows the run
	}
	if len(run.Decision) > 0 {
		var d oversight.Decision
		if err := json.Unmarshal(run.Decision, &d); err != nil {
			view.DecisionError = "the stored decision cannot be read: " + err.Error()
		} else {
			view.Decision = &d
		}
	}
	s.render(w, http.StatusOK, "run", page{Title: "Run " + run.ID, Session: &sess, RunView: &view})
}

func (s *server) approvals(w http.ResponseWriter, r *http.Request, sess session) {
	s.renderQueue(w, r, sess, http.StatusOK, flashFrom(r), "")
}

func (s *server) renderQueue(w http.ResponseWriter, r *http.Request, sess session, status int, flash, errMsg string) {
	if ok, err := s.can(r.Context(), sess, "read", "", ""); err != nil || !ok {
		s.fail(w, r, &sess, http.StatusForbidden, "You may not read the approval queue.")
		return
	}
	pending, err := s.o.Queue.List(r.Context(), store.ApprovalListParams{States: []store.ApprovalState{store.ApprovalPending}, Limit: 200})
	if err != nil {
		s.internal(w, r, &sess, err)
		return
	}
	recent, err := s.o.Queue.List(r.Context(), store.ApprovalListParams{
		States: []store.ApprovalState{store.ApprovalApproved, store.ApprovalRejected, store.ApprovalExpired, store.ApprovalVoided}, Limit: 20,
	})
	if err != nil {
		s.internal(w, r, &sess, err)
		return
	}
	s.render(w, status, "approvals", page{
		Title: "Approvals", Session: &sess, Flash: flash, Error: errMsg,
		Pending: s.approvalViews(r.Context(), sess, pending), Recent: s.approvalViews(r.Context(), sess, recent),
	})
}

func flashFrom(r *http.Request) string {
	q := r.URL.Query()
	id, state := q.Get("done"), q.Get("state")
	if id == "" || state == "" {
		return ""
	}
	return fmt.Sprintf("Approval %s is now %s.", id, state)
}

func (s *server) decide(w http.ResponseWriter, r *http.Request, sess session) {
	id, action := r.PathValue("id"), r.PathValue("action")
	if action != "approve" && action != "reject" {
		s.fail(w, r, &sess, http.StatusNotFound, "Unknown action.")
		return
	}
	a, err := s.o.Queue.Get(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		s.renderQueue(w, r, sess, http.StatusNotFound, "", "There is no approval request "+id+".")
		return
	}
	if err != nil {
		s.internal(w, r, &sess, err)
		return
	}
	ok, err := s.can(r.Context(), sess, action, a.Model, a.Environment)
	if err != nil {
		s.internal(w, r, &sess, err)
		return
	}
	if !ok {
		s.o.Logger.Warn("ui: vote refused by policy", "subject", sess.Subject, "approval", id, "action", action)
		s.record(r.Context(), "ui.vote_refused", sess.Subject, map[string]any{"approval_id": id, "action": action, "run_id": a.RunID})
		s.renderQueue(w, r, sess, http.StatusForbidden, "", fmt.Sprintf("The policy does not allow %s to %s promotions of %s to %s.", sess.Subject, action, a.Model, a.Environment))
		return
	}
	comment := r.PostForm.Get("comment")
	if action == "approve" {
		a, err = s.o.Queue.Approve(r.Context(), id, sess.principal(), comment)
	} else {
		a, err = s.o.Queue.Reject(r.Context(), id, sess.principal(), comment)
	}
	if err != nil {
		status, _, known := approval.ErrorStatus(err)
		if !known {
			s.internal(w, r, &sess, err)
			return
		}
		s.renderQueue(w, r, sess, status, "", humanError(err))
		return
	}
	http.Redirect(w, r, s.o.BasePath+"/approvals?done="+url.QueryEscape(a.ID)+"&state="+url.QueryEscape(string(a.State)), http.StatusSeeOther)
}

func humanError(err error) string {
	switch {
	case errors.Is(err, approval.ErrSelfApproval):
		return "You requested or authored this candidate, so someone else must approve it."
	case errors.Is(err, approval.ErrNotAllowed):
		return "You are not in a group allowed to decide this request."
	case errors.Is(err, approval.ErrExpired):
		return "This request expired before it was decided."
	case errors.Is(err, approval.ErrAlreadyDecided):
		return "This request was already decided: " + err.Error()
	}
	return err.Error()
}

func (s *server) record(ctx context.Context, typ, actor string, data map[string]any) {
	if s.o.Recorder == nil {
		return
	}
	if err := s.o.Recorder.Record(ctx, typ, "", actor, data); err != nil {
		s.o.Logger.Error("ui: audit record failed", "type", typ, "err", err)
	}
}

func (s *server) fail(w http.ResponseWriter, r *http.Request, sess *session, status int, msg string) {
	s.render(w, status, "error", page{Title: http.StatusText(status), Session: sess, Error: msg})
}

func (s *server) internal(w http.ResponseWriter, r *http.Request, sess *session, err error) {
	s.o.Logger.Error("ui: request failed", "path", r.URL.Path, "err", err)
	s.fail(w, r, sess, http.StatusInternalServerError, "Something went wrong on the server; the error is in its log.")
}

func (s *server) render(w http.ResponseWriter, status int, name string, p page) {
	p.Base = s.o.BasePath
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	if err := s.tmpl[name].ExecuteTemplate(w, "layout", p); err != nil {
		s.o.Logger.Error("ui: render", "page", name, "err", err)
	}
}

func (s *server) style(w http.ResponseWriter, r *http.Request) {
	b, err := fs.ReadFile(assets, "assets/style.css")
	if err != nil {
		http.Error(w, "missing stylesheet", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/css; charset=utf-8")
	w.Header().Set("Cache-Control", "public, max-age=3600")
	_, _ = w.Write(b)
}
