package assistant

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
)

// RejectError says why an LLM output was refused; Code is the label on the
// rejection counter.
type RejectError struct {
	Code   string // unknown_citation | ungrounded_number | uncited_claim | no_citation | empty | too_long
	Detail string
}

func (e *RejectError) Error() string { return e.Code + ": " + e.Detail }

var (
	citeGroupRe = regexp.MustCompile(`\[([^\[\]\n]{1,400})\]`)
	// A number: digits with an optional fraction and exponent, optionally a
	// percent. Digits glued to letters or underscores (p99, v2, roc_auc2)
	// are part of a name and are skipped by the caller.
	numberRe = regexp.MustCompile(`[-+−]?\d+(?:,\d{3})*(?:\.\d+)?(?:[eE][-+]?\d+)?%?`)
	idRe     = regexp.MustCompile(`^[a-z]+:[^\s\[\],]+$`)
)

const maxOutput = 6000

// Verify checks an LLM's text against the evidence and returns the ids it
// cites. Each sentence that states a number must rest on cited evidence
// (its own citations, or those closing its line: "AUC fell to 0.93. Recall
// held. [metric:roc_auc, metric:recall]"), and every number must be one a
// cited item holds (a value, its absolute value, a percentage of it, or a
// figure printed in its text) to the precision the number is written with.
// Every cited id must exist.
func Verify(text string, b *Bundle) ([]string, error) {
	if strings.TrimSpace(text) == "" {
		return nil, &RejectError{Code: "empty", Detail: "the answer has no text"}
	}
	if len(text) > maxOutput {
		return nil, &RejectError{Code: "too_long", Detail: fmt.Sprintf("%d characters, more than %d", len(text), maxOutput)}
	}
	var all []string
	seen := map[string]bool{}
	for _, line := range strings.Split(text, "\n") {
		sents := sentences(strings.TrimSpace(line))
		ids := make([][]string, len(sents))
		rests := make([]string, len(sents))
		for i, sent := range sents {
			var err error
			if ids[i], rests[i], err = citations(sent, b); err != nil {
				return nil, err
			}
			for _, id := range ids[i] {
				if !seen[id] {
					seen[id] = true
					all = append(all, id)
				}
			}
		}
		for i, sent := range sents {
			sc := scope(ids, i)
			if len(sc) == 0 && !heading(sent) {
				// A claim without evidence, numbers or not: "column zip drifted".
				return nil, &RejectError{Code: "uncited_claim", Detail: fmt.Sprintf("%q cites no evidence", clipTo(Scrub(sent), 80))}
			}
			if err := checkNumbers(rests[i], sc, b); err != nil {
				return nil, err
			}
		}
	}
	if len(all) == 0 {
		return nil, &RejectError{Code: "no_citation", Detail: "the answer cites no evidence"}
	}
	return all, nil
}

// heading is a line that introduces others ("Evidence:"), not a claim.
func heading(s string) bool {
	s = strings.TrimSpace(s)
	return strings.HasSuffix(s, ":") && len(strings.Fields(s)) <= 4 && !strings.ContainsAny(s, "0123456789")
}

// scope is the citations a sentence rests on: its own, else the next ones
// on its line, else the previous ones.
func scope(ids [][]string, i int) []string {
	if len(ids[i]) > 0 {
		return ids[i]
	}
	for j := i + 1; j < len(ids); j++ {
		if len(ids[j]) > 0 {
			return ids[j]
		}
	}
	for j := i - 1; j >= 0; j-- {
		if len(ids[j]) > 0 {
			return ids[j]
		}
	}
	return nil
}

// sentences splits a line at ". " (not inside a number), keeping citations
// that follow a full stop with the sentence they close.
func sentences(line string) []string {
	if line == "" {
		return nil
	}
	var out []string
	start := 0
	for i := 0; i+1 < len(line); i++ {
		if line[i] != '.' || line[i+1] != ' ' {
			continue
		}
		j := i + 1
		for j < len(line) && line[j] == ' ' {
			j++
		}
		if j < len(line) && line[j] == '[' {
			continue // "… fell. [metric:x]": the citation closes this sentence
		}
		out = append(out, line[start:i+1])
		start = i + 1
	}
	return append(out, line[start:])
}

// citations finds the bracketed ids of a claim, checks each exists, and
// returns the claim with them removed (their digits are not claims).
func citations(claim string, b *Bundle) ([]string, string, error) {
	var ids []string
	var err error
	rest := citeGroupRe.ReplaceAllStringFunc(claim, func(g string) string {
		inner := g[1 : len(g)-1]
		parts := strings.Split(inner, ",")
		looksLikeIDs := true
		for _, p := range parts {
			if !idRe.MatchString(strings.TrimSpace(p)) {
				looksLikeIDs = false
			}
		}
		if !looksLikeIDs {
			return g // an ordinary bracket: its numbers are checked
		}
		for _, p := range parts {
			id := strings.TrimSpace(p)
			if _, ok := b.Get(id); !ok && err == nil {
				err = &RejectError{Code: "unknown_citation", Detail: fmt.Sprintf("cites %q, which is not in the evidence", Label(id))}
			}
			ids = append(ids, id)
		}
		return " "
	})
	return ids, rest, err
}

func checkNumbers(claim string, ids []string, b *Bundle) error {
	for _, loc := range numberRe.FindAllStringIndex(claim, -1) {
		tok := claim[loc[0]:loc[1]]
		if loc[0] > 0 && glued(claim[:loc[0]]) {
			continue // part of a name: p99, latency_p99_ms, E3, v1
		}
		if loc[1] < len(claim) && isNameRune(rune(claim[loc[1]])) && claim[loc[1]] != '%' {
			continue // 2nd, 3x, 5m: units and ordinals glued to letters are names too
		}
		if isListMarker(claim, loc) {
			continue
		}
		if len(ids) == 0 {
			return &RejectError{Code: "uncited_claim", Detail: fmt.Sprintf("states %s without citing evidence", tok)}
		}
		if !grounded(tok, ids, b) {
			return &RejectError{Code: "ungrounded_number", Detail: fmt.Sprintf("states %s, which no cited evidence (%s) holds", tok, strings.Join(ids, ", "))}
		}
	}
	return nil
}

func glued(before string) bool {
	r := rune(before[len(before)-1])
	return isNameRune(r) || r == '#' || r == '@' || r == ':' || r == '/' || r == '=' || r == '.'
}

func isNameRune(r rune) bool {
	return r == '_' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z')
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// isListMarker is "1." or "2)" opening a line: numbering, not a claim.
func isListMarker(claim string, loc []int) bool {
	if strings.TrimLeft(claim[:loc[0]], " -*") != "" {
		return false
	}
	return loc[1] < len(claim) && (claim[loc[1]] == '.' || claim[loc[1]] == ')') && loc[1]-loc[0] <= 2
}

// grounded reports whether a printed number matches a cited item.
func grounded(tok string, ids []string, b *Bundle) bool {
	pct := strings.HasSuffix(tok, "%")
	clean := strings.TrimSuffix(tok, "%")
	clean = strings.ReplaceAll(strings.ReplaceAll(clean, ",", ""), "−", "-")
	n, err := strconv.ParseFloat(clean, 64)
	if err != nil || math.IsNaN(n) || math.IsInf(n, 0) {
		return false
	}
	tol := tolerance(clean)
	for _, id := range ids {
		e, _ := b.Get(id)
		for _, f := range figures(e) {
			if pct {
				if near(n, f*100, tol) || near(n, f, tol) {
					return true
				}
			} else if near(n, f, tol) {
				return true
			}
		}
	}
	return false
}

// near compares at the printed precision, sign dropped ("fell by 0.0089"
// for a delta of -0.0089 is the same figure).
func near(n, v, tol float64) bool {
	return math.Abs(n-v) <= tol || math.Abs(math.Abs(n)-math.Abs(v)) <= tol
}

// tolerance is half a unit of the last printed digit: 0.93 stands for
// anything in [0.925, 0.935]; 1.2e-05 for [1.15e-05, 1.25e-05].
func tolerance(s string) float64 {
	s = strings.TrimLeft(s, "+-")
	exp := 0
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		exp, _ = strconv.Atoi(s[i+1:])
		s = s[:i]
	}
	dec := 0
	if i := strings.IndexByte(s, '.'); i >= 0 {
		dec = len(s) - i - 1
	}
	return 0.5*math.Pow(10, float64(exp-dec)) + 1e-12
}

// figures are the numbers an item holds: its values and the numbers its
// text prints (versions, counts, limits written in a policy message).
func figures(e Evidence) []float64 {
	out := make([]float64, 0, len(e.Values)+4)
	for _, v := range e.Values {
		out = append(out, v)
	}
	for _, tok := range numberRe.FindAllString(e.Text, -1) {
		tok = strings.ReplaceAll(strings.TrimSuffix(tok, "%"), ",", "")
		if f, err := strconv.ParseFloat(tok, 64); err == nil {
			out = append(out, f)
		}
	}
	return out
}
