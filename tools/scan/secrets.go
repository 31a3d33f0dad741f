package scan

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"regexp"
)

// secretPatterns are credentials that have no business inside a model
// artifact: whoever can download the model gets them. Each pattern is
// specific enough (fixed prefixes, lengths) to keep false positives rare
// in tokenizer vocabularies and configs.
var secretPatterns = []struct {
	kind string
	re   *regexp.Regexp
}{
	{"private key", regexp.MustCompile(`-----BEGIN ((RSA|EC|DSA|OPENSSH|PGP|ENCRYPTED) )?PRIVATE KEY( BLOCK)?-----`)},
	{"AWS access key id", regexp.MustCompile(`\b(AKIA|ASIA)[0-9A-Z]{16}\b`)},
	{"AWS secret access key", regexp.MustCompile(`(?i)aws_secret_access_key["']?\s*[:=]\s*["']?[A-Za-z0-9/+=]{40}`)},
	{"GitHub token", regexp.MustCompile(`\b(gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{60,})\b`)},
	{"Slack token", regexp.MustCompile(`\bxox[abprs]-[A-Za-z0-9-]{10,}`)},
	{"OpenAI API key", regexp.MustCompile(`\bsk-(proj-)?[A-Za-z0-9_-]{32,}`)},
	{"Hugging Face token", regexp.MustCompile(`\bhf_[A-Za-z0-9]{34,}\b`)},
	{"Google API key", regexp.MustCompile(`\bAIza[0-9A-Za-z_-]{35}\b`)},
	{"Stripe secret key", regexp.MustCompile(`\b[rs]k_live_[0-9a-zA-Z]{24,}\b`)},
	{"Azure storage key", regexp.MustCompile(`AccountKey=[A-Za-z0-9+/=]{80,}`)},
}

// SecretKinds lists what the secret scan looks for (for documentation).
func SecretKinds() []string {
	out := make([]string, len(secretPatterns))
	for i, p := range secretPatterns {
		out[i] = p.kind
	}
	return out
}

func redact(s string) string {
	if len(s) <= 8 {
		return "****"
	}
	return s[:min(6, len(s)/3)] + "…"
}

// secretsIn checks one string (a metadata value) found at where.
func (s *scanner) secretsIn(v, where string) {
	for _, p := range secretPatterns {
		if m := p.re.FindString(v); m != "" {
			s.res.add(Finding{Severity: High, Code: "scan.secret", Location: where,
				Message: fmt.Sprintf("%s (%s) shipped with the model: revoke it and remove it from the artifact", p.kind, redact(m))})
		}
	}
}

// secretsInText checks text line by line, reporting line numbers.
func (s *scanner) secretsInText(data []byte, where string) {
	line := 1
	for len(data) > 0 {
		i := bytes.IndexByte(data, '\n')
		l := data
		if i >= 0 {
			l, data = data[:i], data[i+1:]
		} else {
			data = nil
		}
		s.secretsIn(string(l), fmt.Sprintf("%sline %d", prefixSp(where), line))
		line++
	}
}

func prefixSp(w string) string {
	if w == "" {
		return ""
	}
	return w + " "
}

// scanTextSecrets streams a text file, keeping one line at a time.
func (s *scanner) scanTextSecrets(r io.Reader, where string) {
	if !s.o.secrets() {
		return
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	line := 0
	for sc.Scan() {
		line++
		s.secretsIn(sc.Text(), fmt.Sprintf("%sline %d", prefixSp(where), line))
	}
	if err := sc.Err(); err != nil {
		s.res.add(Finding{Severity: Low, Code: "scan.text.long_line", Location: fmt.Sprintf("line %d", line+1),
			Message: "line longer than 16 MiB: the rest of the file was not checked for secrets"})
	}
}
