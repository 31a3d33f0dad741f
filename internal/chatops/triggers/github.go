package triggers

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"regexp"
	"slices"
	"strings"
)

// GitHub event names the webhook acts on.
const (
	GitHubPush        = "push"
	GitHubWorkflowRun = "workflow_run"
	GitHubRelease     = "release"
	GitHubPing        = "ping"
)

// ErrUnsupportedEvent: the X-GitHub-Event is not one modelgate acts on.
var ErrUnsupportedEvent = errors.New("unsupported GitHub event")

// GitHubEvent is what modelgate reads of a GitHub delivery: only the
// fields that say which repository, which commit, who wrote it and which
// files changed. Nothing in it is trusted beyond the signature that
// proved GitHub sent it; none of it names a server path.
type GitHubEvent struct {
	Kind       string // push | workflow_run | release | ping
	Repository string // owner/name
	// Ref is the branch (without refs/heads/) or the release tag.
	Ref           string
	DefaultBranch string
	SHA           string // the commit the run retrains at
	// AuthorLogin / AuthorName / AuthorEmail are the head commit's author.
	AuthorLogin string
	AuthorName  string
	AuthorEmail string
	Sender      string // who pushed, ran the workflow or published
	// Files are the repository paths the event changed (push: every
	// commit's added, modified and removed files; workflow_run: the
	// workflow file itself; release: none).
	Files []string
	// Skip, when set, says why the event starts nothing although it
	// parsed (a deleted branch, a workflow run that did not succeed, a
	// release that was not published).
	Skip string
}

var (
	shaPattern = regexp.MustCompile(`^[0-9a-f]{40}$`)
	zeroSHA    = strings.Repeat("0", 40)
)

// maxGitHubFiles bounds the file list kept from one push: GitHub itself
// caps a push payload at 20 commits with a few thousand files.
const maxGitHubFiles = 10000

type ghRepo struct {
	FullName      string `json:"full_name"`
	DefaultBranch string `json:"default_branch"`
}

type ghUser struct {
	Login string `json:"login"`
}

type ghAuthor struct {
	Name     string `json:"name"`
	Email    string `json:"email"`
	Username string `json:"username"`
}

type ghCommit struct {
	ID       string   `json:"id"`
	Author   ghAuthor `json:"author"`
	Added    []string `json:"added"`
	Removed  []string `json:"removed"`
	Modified []string `json:"modified"`
}

type ghPush struct {
	Ref        string     `json:"ref"`
	After      string     `json:"after"`
	Deleted    bool       `json:"deleted"`
	Repository *ghRepo    `json:"repository"`
	Pusher     ghAuthor   `json:"pusher"`
	Sender     ghUser     `json:"sender"`
	HeadCommit *ghCommit  `json:"head_commit"`
	Commits    []ghCommit `json:"commits"`
}

type ghWorkflowRun struct {
	Action      string  `json:"action"`
	Repository  *ghRepo `json:"repository"`
	Sender      ghUser  `json:"sender"`
	WorkflowRun *struct {
		HeadSHA    string `json:"head_sha"`
		HeadBranch string `json:"head_branch"`
		Path       string `json:"path"`
		Status     string `json:"status"`
		Conclusion string `json:"conclusion"`
		Event      string `json:"event"`
		Actor      ghUser `json:"actor"`
		HeadCommit *struct {
			ID     string   `json:"id"`
			Author ghAuthor `json:"author"`
		} `json:"head_commit"`
	} `json:"workflow_run"`
}

type ghRelease struct {
	Action     string  `json:"action"`
	Repository *ghRepo `json:"repository"`
	Sender     ghUser  `json:"sender"`
	Release    *struct {
		TagName         string `json:"tag_name"`
		TargetCommitish string `json:"target_commitish"`
		Draft           bool   `json:"draft"`
		Author          ghUser `json:"author"`
	} `json:"release"`
}

// ParseGitHubEvent reads the payload of one delivery of event. Errors
// name the field at fault; an event other than push, workflow_run,
// release or ping is ErrUnsupportedEvent.
func ParseGitHubEvent(event string, body []byte) (GitHubEvent, error) {
	switch event {
	case GitHubPush, GitHubWorkflowRun, GitHubRelease, GitHubPing:
	default:
		return GitHubEvent{}, fmt.Errorf("%w %q (modelgate acts on push, workflow_run and release)", ErrUnsupportedEvent, clip(event))
	}
	e := GitHubEvent{Kind: event}
	if event == GitHubPing {
		var p struct {
			Repository *ghRepo `json:"repository"`
		}
		if err := decodeGitHub(body, &p); err != nil {
			return e, err
		}
		if p.Repository != nil {
			e.Repository = p.Repository.FullName
		}
		return e, nil
	}
	var err error
	switch event {
	case GitHubPush:
		err = e.parsePush(body)
	case GitHubWorkflowRun:
		err = e.parseWorkflowRun(body)
	case GitHubRelease:
		err = e.parseRelease(body)
	}
	if err != nil {
		return GitHubEvent{}, err
	}
	if !repoName.MatchString(e.Repository) {
		return GitHubEvent{}, fmt.Errorf("repository.full_name: %q is not owner/name", clip(e.Repository))
	}
	return e, nil
}

func decodeGitHub(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("payload is not the JSON GitHub sends: %w", err)
	}
	if dec.More() {
		return errors.New("payload: data after the JSON object")
	}
	return nil
}

func (e *GitHubEvent) repo(r *ghRepo) error {
	if r == nil {
		return errors.New("repository: missing")
	}
	e.Repository, e.DefaultBranch = r.FullName, r.DefaultBranch
	return nil
}

func (e *GitHubEvent) parsePush(body []byte) error {
	var p ghPush
	if err := decodeGitHub(body, &p); err != nil {
		return err
	}
	if err := e.repo(p.Repository); err != nil {
		return err
	}
	branch, ok := strings.CutPrefix(p.Ref, "refs/heads/")
	switch {
	case p.Ref == "":
		return errors.New("ref: missing")
	case !ok:
		if tag, isTag := strings.CutPrefix(p.Ref, "refs/tags/"); isTag {
			e.Ref, e.Skip = tag, "a tag push (releases start runs through the release event)"
			return nil
		}
		return fmt.Errorf("ref: %q is neither a branch nor a tag", clip(p.Ref))
	}
	e.Ref, e.Sender = branch, p.Sender.Login
	if p.Deleted || p.After == zeroSHA {
		e.Skip = "the branch was deleted"
		return nil
	}
	if !shaPattern.MatchString(p.After) {
		return fmt.Errorf("after: %q is not a 40-hex commit SHA", clip(p.After))
	}
	e.SHA = p.After
	if p.HeadCommit != nil {
		e.AuthorLogin, e.AuthorName, e.AuthorEmail = p.HeadCommit.Author.Username, p.HeadCommit.Author.Name, p.HeadCommit.Author.Email
	}
	seen := map[string]bool{}
	for i, c := range p.Commits {
		for _, list := range [][]string{c.Added, c.Modified, c.Removed} {
			for _, f := range list {
				if f == "" || seen[f] {
					continue
				}
				if len(seen) >= maxGitHubFiles {
					return fmt.Errorf("commits[%d]: more than %d changed files", i, maxGitHubFiles)
				}
				seen[f] = true
				e.Files = append(e.Files, f)
			}
		}
	}
	slices.Sort(e.Files)
	return nil
}

func (e *GitHubEvent) parseWorkflowRun(body []byte) error {
	var p ghWorkflowRun
	if err := decodeGitHub(body, &p); err != nil {
		return err
	}
	if err := e.repo(p.Repository); err != nil {
		return err
	}
	wr := p.WorkflowRun
	if wr == nil {
		return errors.New("workflow_run: missing")
	}
	if !shaPattern.MatchString(wr.HeadSHA) {
		return fmt.Errorf("workflow_run.head_sha: %q is not a 40-hex commit SHA", clip(wr.HeadSHA))
	}
	e.SHA, e.Ref, e.Sender = wr.HeadSHA, wr.HeadBranch, wr.Actor.Login
	if e.Sender == "" {
		e.Sender = p.Sender.Login
	}
	if wr.HeadCommit != nil {
		e.AuthorLogin, e.AuthorName, e.AuthorEmail = wr.HeadCommit.Author.Username, wr.HeadCommit.Author.Name, wr.HeadCommit.Author.Email
	}
	if wr.Path != "" {
		e.Files = []string{wr.Path}
	}
	switch {
	case p.Action != "completed":
		e.Skip = fmt.Sprintf("the workflow run is %s, not completed", clip(p.Action))
	case wr.Conclusion != "success":
		e.Skip = fmt.Sprintf("the workflow run concluded %s, not success", clip(wr.Conclusion))
	}
	return nil
}

func (e *GitHubEvent) parseRelease(body []byte) error {
	var p ghRelease
	if err := decodeGitHub(body, &p); err != nil {
		return err
	}
	if err := e.repo(p.Repository); err != nil {
		return err
	}
	r := p.Release
	if r == nil {
		return errors.New("release: missing")
	}
	if r.TagName == "" {
		return errors.New("release.tag_name: missing")
	}
	e.Ref, e.SHA, e.Sender, e.AuthorLogin = r.TagName, r.TargetCommitish, p.Sender.Login, r.Author.Login
	switch {
	case p.Action != "published":
		e.Skip = fmt.Sprintf("the release was %s, not published", clip(p.Action))
	case r.Draft:
		e.Skip = "the release is a draft"
	}
	return nil
}

// Author is how the event names the commit's author for the approval
// queue: the GitHub login when there is one (mapped to a modelgate
// identity by the caller), else "Name <email>".
func (e GitHubEvent) Author() string {
	switch {
	case e.AuthorLogin != "":
		return e.AuthorLogin
	case e.AuthorEmail != "":
		return strings.TrimSpace(e.AuthorName + " <" + e.AuthorEmail + ">")
	}
	return e.AuthorName
}

// MatchGitHub says whether an event is the model's: same repository, an
// event kind the model listens to, a branch it watches, and (push and
// workflow_run) a changed file under its training-code paths. The reason
// names what did not match.
func (g GitHub) MatchGitHub(e GitHubEvent) (bool, string) {
	if !strings.EqualFold(g.Repository, e.Repository) {
		return false, "another repository"
	}
	if !g.WantsEvent(e.Kind) {
		return false, "the model does not listen to " + e.Kind
	}
	if e.Kind == GitHubRelease {
		return true, "" // a release names no files: listening to it is the opt-in
	}
	branches := g.Branches
	if len(branches) == 0 && e.DefaultBranch != "" {
		branches = []string{e.DefaultBranch}
	}
	if len(branches) > 0 && !slices.ContainsFunc(branches, func(b string) bool { ok, _ := path.Match(b, e.Ref); return ok }) {
		return false, fmt.Sprintf("branch %s is not watched", clip(e.Ref))
	}
	for _, f := range e.Files {
		if g.Matches(f) {
			return true, ""
		}
	}
	return false, "no training-code path changed"
}
