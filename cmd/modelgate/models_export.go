package main

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/modelgate/modelgate/internal/api"
	"github.com/modelgate/modelgate/internal/api/client"
	"github.com/modelgate/modelgate/internal/release/bundle"
	"github.com/modelgate/modelgate/tools/sign"
)

// modelsExport writes a version's signed bundle (GET .../export) to a
// tar, or unpacked into a directory, or, with --mlflow, an MLflow model
// directory (models_mlflow.go).
func modelsExport() *cobra.Command {
	var out string
	var mlflow bool
	c, _ := modelsSub("export MODEL VERSION --out DIR|FILE.tar", "Export a version with its lineage as a signed bundle (or an MLflow model with --mlflow)", cobra.ExactArgs(2),
		func(cmd *cobra.Command, f *modelsFlags, args []string) error {
			if err := validPathName("model", args[0]); err != nil {
				return err
			}
			if err := validPathName("version", args[1]); err != nil {
				return err
			}
			if out == "" {
				return usageErr(errors.New("--out: required (a directory, or a file ending in .tar)"))
			}
			cl, err := serverClient(f.server, f.token)
			if err != nil {
				return err
			}
			tmp, err := os.CreateTemp(filepath.Dir(filepath.Clean(out)), ".modelgate-export-*")
			if err != nil {
				return usageErr(fmt.Errorf("--out %s: %w", out, err))
			}
			defer os.Remove(tmp.Name())
			defer tmp.Close()
			if err := fetchBundle(cmd, cl, args[0], args[1], tmp); err != nil {
				return err
			}
			if _, err := tmp.Seek(0, io.SeekStart); err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			switch {
			case mlflow:
				return writeMLflowFromBundle(cmd, tmp, out)
			case strings.HasSuffix(out, ".tar"):
				if err := tmp.Close(); err != nil {
					return checkFailed(err)
				}
				if err := os.Rename(tmp.Name(), out); err != nil {
					return checkFailed(fmt.Errorf("write %s: %w", out, err))
				}
				fmt.Fprintf(w, "exported %s %s to %s\n", args[0], args[1], out)
				return nil
			default:
				if err := os.MkdirAll(filepath.Join(out, bundle.BlobDir), 0o755); err != nil {
					return usageErr(fmt.Errorf("--out %s: %w", out, err))
				}
				rd, err := bundle.Unpack(tmp, bundle.ReadParams{Dir: filepath.Join(out, bundle.BlobDir)})
				if err != nil {
					return checkFailed(fmt.Errorf("the server's bundle: %w", err))
				}
				if err := os.WriteFile(filepath.Join(out, bundle.ManifestName), rd.ManifestBytes, 0o644); err != nil {
					return checkFailed(err)
				}
				sb := fmt.Sprintf("{\n  \"algorithm\": %q,\n  \"key_id\": %q,\n  \"signature\": %q\n}\n", rd.Signature.Algorithm, rd.Signature.KeyID, rd.Signature.Signature)
				if err := os.WriteFile(filepath.Join(out, bundle.SignatureName), []byte(sb), 0o644); err != nil {
					return checkFailed(err)
				}
				fmt.Fprintf(w, "exported %s %s into %s (manifest.json, manifest.sig, %d blob(s))\n", args[0], args[1], out, len(rd.Paths))
				return nil
			}
		})
	c.Flags().StringVar(&out, "out", "", "where to write: FILE.tar (the bundle) or a directory (unpacked, or the MLflow model with --mlflow)")
	c.Flags().BoolVar(&mlflow, "mlflow", false, "write an MLflow model directory (MLmodel with the xgboost flavor and a signature, model.json) instead of a bundle")
	return c
}

// fetchBundle streams GET .../export into w: the client's Do buffers
// and decodes JSON, a bundle is neither small nor JSON.
func fetchBundle(cmd *cobra.Command, cl *client.Client, model, version string, w io.Writer) error {
	req, err := http.NewRequestWithContext(cmd.Context(), "GET", cl.Base+"/v1/models/"+url.PathEscape(model)+"/versions/"+url.PathEscape(version)+"/export", nil)
	if err != nil {
		return usageErr(err)
	}
	if cl.Token != "" {
		req.Header.Set("Authorization", "Bearer "+cl.Token)
	}
	hc := &http.Client{Timeout: 30 * time.Minute}
	resp, err := hc.Do(req)
	if err != nil {
		return checkFailed(fmt.Errorf("reach modelgate server at %s: %w", cl.Base, err))
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		return serverErr(clientError(resp.StatusCode, data))
	}
	if _, err := io.Copy(w, resp.Body); err != nil {
		return checkFailed(fmt.Errorf("download bundle: %w", err))
	}
	return nil
}

// clientError turns an error answer into the client's error, through
// the one decoder the client has (a request that fails the same way).
func clientError(status int, data []byte) error {
	ae := &client.Error{Status: status, Code: http.StatusText(status), Message: strings.TrimSpace(string(data))}
	var env struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	if json.Unmarshal(data, &env) == nil && env.Error.Code != "" {
		ae.Code, ae.Message = env.Error.Code, env.Error.Message
	}
	return ae
}

// modelsImport verifies a bundle here with --public-key (exit 1 naming
// what changed), then sends it to the server, which verifies it again
// before registering the version (promote right).
func modelsImport() *cobra.Command {
	var pubPath string
	c, _ := modelsSub("import FILE.tar --public-key KEY.pub", "Import a signed bundle: verify it, then register the version with its lineage (marked imported)", cobra.ExactArgs(1),
		func(cmd *cobra.Command, f *modelsFlags, args []string) error {
			if pubPath == "" {
				return usageErr(errors.New("--public-key: required (the exporting server's audit.key.pub, PEM)"))
			}
			pub, err := sign.LoadPublicKey(pubPath)
			if err != nil {
				return usageErr(fmt.Errorf("--public-key: %w", err))
			}
			fh, err := os.Open(args[0])
			if err != nil {
				return usageErr(err)
			}
			defer fh.Close()
			tmp, err := os.MkdirTemp("", "modelgate-import-*")
			if err != nil {
				return err
			}
			defer os.RemoveAll(tmp)
			rd, err := bundle.ReadVerify(fh, bundle.ReadParams{Dir: tmp, PublicKey: pub})
			switch {
			case errors.Is(err, bundle.ErrTampered):
				return checkFailed(fmt.Errorf("%s: %w", args[0], err))
			case err != nil:
				return usageErr(fmt.Errorf("%s: %w", args[0], err))
			}
			if _, err := fh.Seek(0, io.SeekStart); err != nil {
				return err
			}
			cl, err := serverClient(f.server, f.token)
			if err != nil {
				return err
			}
			req, err := http.NewRequestWithContext(cmd.Context(), "POST", cl.Base+"/v1/models/"+url.PathEscape(rd.Manifest.Model)+"/import", fh)
			if err != nil {
				return usageErr(err)
			}
			req.Header.Set("Content-Type", "application/x-tar")
			req.Header.Set(api.PublicKeyHeader, base64.StdEncoding.EncodeToString(pub))
			if cl.Token != "" {
				req.Header.Set("Authorization", "Bearer "+cl.Token)
			}
			resp, err := (&http.Client{Timeout: 30 * time.Minute}).Do(req)
			if err != nil {
				return checkFailed(fmt.Errorf("reach modelgate server at %s: %w", cl.Base, err))
			}
			defer resp.Body.Close()
			data, _ := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
			if resp.StatusCode != http.StatusCreated {
				ce := clientError(resp.StatusCode, data)
				if resp.StatusCode == http.StatusUnprocessableEntity {
					return checkFailed(ce) // the server found it tampered: a failed check
				}
				return serverErr(ce)
			}
			var v api.ImportView
			if err := json.Unmarshal(data, &v); err != nil {
				return checkFailed(fmt.Errorf("decode the server's answer: %w", err))
			}
			w := cmd.OutOrStdout()
			if f.jsonOut {
				return policyWriteJSON(w, v)
			}
			fmt.Fprintf(w, "imported %s %s (%s), signed by key %s\n", v.Model, v.Version, v.Digest, v.KeyID)
			return nil
		})
	c.Flags().StringVar(&pubPath, "public-key", "", "the Ed25519 public key (PEM) the bundle must be signed with: the exporting server's DATA-DIR/audit.key.pub")
	return c
}
