package llmeval

import (
	"strings"
	"unicode"
)

// Tokens normalises a text the way SQuAD's evaluation script does before
// token F1: lower case, every character that is not a letter or a digit
// becomes a space, and the articles a, an, the are dropped.
func Tokens(s string) []string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			return unicode.ToLower(r)
		}
		return ' '
	}, s)
	var out []string
	for _, w := range strings.Fields(s) {
		if w != "a" && w != "an" && w != "the" {
			out = append(out, w)
		}
	}
	return out
}

// TokenF1 is SQuAD's token F1 between an answer and a reference: the
// harmonic mean of precision (shared tokens / answer tokens) and recall
// (shared tokens / reference tokens), shared tokens counted as a multiset.
// Two empty texts score 1; one empty text scores 0.
func TokenF1(answer, reference string) float64 {
	a, r := Tokens(answer), Tokens(reference)
	if len(a) == 0 || len(r) == 0 {
		if len(a) == len(r) {
			return 1
		}
		return 0
	}
	counts := map[string]int{}
	for _, w := range r {
		counts[w]++
	}
	common := 0
	for _, w := range a {
		if counts[w] > 0 {
			counts[w]--
			common++
		}
	}
	if common == 0 {
		return 0
	}
	p, rc := float64(common)/float64(len(a)), float64(common)/float64(len(r))
	return 2 * p * rc / (p + rc)
}

// RougeL is ROUGE-L's F-measure (beta = 1) over the same tokens: the
// longest common subsequence's length over the answer's length
// (precision) and the reference's (recall), combined harmonically. Unlike
// token F1 it rewards the reference's order.
func RougeL(answer, reference string) float64 {
	a, r := Tokens(answer), Tokens(reference)
	if len(a) == 0 || len(r) == 0 {
		if len(a) == len(r) {
			return 1
		}
		return 0
	}
	l := lcs(a, r)
	if l == 0 {
		return 0
	}
	p, rc := float64(l)/float64(len(a)), float64(l)/float64(len(r))
	return 2 * p * rc / (p + rc)
}

func lcs(a, b []string) int {
	prev, cur := make([]int, len(b)+1), make([]int, len(b)+1)
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			if a[i-1] == b[j-1] {
				cur[j] = prev[j-1] + 1
			} else {
				cur[j] = max(prev[j], cur[j-1])
			}
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// Normalise is the text an answer is compared by when exact match is too
// strict: tokens joined by single spaces.
func Normalise(s string) string { return strings.Join(Tokens(s), " ") }
