package dataset

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

var timeLayouts = []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02 15:04:05", "2006-01-02"}

// ParseTime parses a timestamp in one of the accepted layouts (UTC when
// no zone is given) into Unix seconds.
func ParseTime(s string) (float64, bool) {
	for _, l := range timeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return float64(t.UnixNano()) / 1e9, true
		}
	}
	return 0, false
}

// ParseBool parses true/false in any case.
func ParseBool(s string) (bool, bool) {
	switch strings.ToLower(s) {
	case "true":
		return true, true
	case "false":
		return false, true
	}
	return false, false
}

func formatTime(sec float64) string {
	s, frac := math.Modf(sec)
	return time.Unix(int64(s), int64(frac*1e9)).UTC().Format(time.RFC3339Nano)
}

func formatFloat(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

// settleText decides the type of a text column (or applies the declared
// one) and converts its values. Text columns are categorical unless every
// value is a boolean or a timestamp.
func settleText(col *Column, want Type, declared bool) error {
	if !declared {
		distinct := map[string]struct{}{}
		for i, s := range col.Str {
			if !col.Null[i] {
				distinct[s] = struct{}{}
			}
		}
		want = classify(distinct)
	}
	return convertText(col, want, 0)
}

// classify picks the narrowest type that fits every distinct value.
func classify(distinct map[string]struct{}) Type {
	if len(distinct) == 0 {
		return TypeCategorical
	}
	isBool := true
	for s := range distinct {
		if _, ok := ParseBool(s); !ok {
			isBool = false
			break
		}
	}
	if isBool {
		return TypeBoolean
	}
	for s := range distinct {
		if _, ok := ParseTime(s); !ok {
			return TypeCategorical
		}
	}
	return TypeTimestamp
}

// convertText turns col's Str into the representation of type t;
// rowBase is added to row numbers in errors.
func convertText(col *Column, t Type, rowBase int) error {
	col.Type = t
	switch t {
	case TypeCategorical:
		return nil
	case TypeNumeric, TypeBoolean, TypeTimestamp:
	default:
		return fmt.Errorf("column %q: unknown type %q", col.Name, t)
	}
	col.Num = make([]float64, len(col.Str))
	cache := map[string]float64{}
	for i, s := range col.Str {
		if col.Null[i] {
			col.Num[i] = math.NaN()
			continue
		}
		if v, ok := cache[s]; ok {
			col.Num[i] = v
			continue
		}
		var v float64
		ok := false
		switch t {
		case TypeBoolean:
			var b bool
			if b, ok = ParseBool(s); b {
				v = 1
			}
		case TypeTimestamp:
			v, ok = ParseTime(s)
		case TypeNumeric:
			var null bool
			v, null, ok = parseNumber([]byte(s))
			if ok && null {
				col.Null[i] = true
				col.Num[i] = math.NaN()
				continue
			}
		}
		if !ok {
			return &ParseError{Row: rowBase + i + 1, Column: col.Name, Err: fmt.Errorf("%q is not a %s value", s, t)}
		}
		cache[s] = v
		col.Num[i] = v
	}
	col.Str = nil
	return nil
}

// ParseNumber parses text as the numeric reader does: a number (±Inf for
// inf, -inf and literals beyond float64, as pandas/numpy read them),
// or a missing token (NaN returned with ok=true).
func ParseNumber(s string) (float64, bool) {
	v, _, ok := parseNumber([]byte(s))
	return v, ok
}
