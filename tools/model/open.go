package model

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strings"
	"time"
)

// OpenOptions tune Open.
type OpenOptions struct {
	Kind    Kind          // what predictions mean, for files and endpoints that do not say
	Timeout time.Duration // endpoint request timeout
	Retries int           // endpoint retries
	// Missing, when set, is the value an XGBoost model treats as absent
	// (besides NaN), overriding what the model records.
	Missing *float64
	// AllTrees makes an XGBoost model that records best_iteration use
	// every tree.
	AllTrees bool
}

// Open returns the predictor a user names on the command line: an
// http(s) URL is a V2 endpoint, a JSON file an XGBoost model, anything
// else a predictions file (CSV or Parquet).
func Open(ref string, o OpenOptions) (Predictor, error) {
	if strings.HasPrefix(ref, "http://") || strings.HasPrefix(ref, "https://") {
		return NewV2Client(V2ClientOptions{URL: ref, Kind: o.Kind, Timeout: o.Timeout, Retries: o.Retries})
	}
	f, err := os.Open(ref)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", ref, err)
	}
	head, _ := bufio.NewReader(f).Peek(64)
	f.Close()
	if t := bytes.TrimLeft(head, " \t\r\n\xef\xbb\xbf"); len(t) > 0 && t[0] == '{' {
		m, err := LoadXGBoostFile(ref)
		if err != nil {
			return nil, err
		}
		if o.Missing != nil {
			m.SetMissing(*o.Missing)
		}
		m.UseAllTrees(o.AllTrees)
		if o.Kind != "" && m.Info().Kind != o.Kind && !(o.Kind == Regression && m.Info().Kind == Binary) {
			return nil, fmt.Errorf("%s: model objective %s gives %s output, the task is %s", ref, m.Objective(), m.Info().Kind, o.Kind)
		}
		return m, nil
	}
	return OpenPredictions(ref, o.Kind)
}
