package main

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"

	"github.com/spf13/cobra"

	"github.com/modelgate/modelgate/internal/api/client"
)

func init() { register(newUploadCmd) }

// newUploadCmd uploads files to a server's blob store by hand: what `run`
// does for a config's files, for a user who wants the digests (to name
// them in a request of their own, or to warm a server before a run).
func newUploadCmd() *cobra.Command {
	var serverURL, token string
	cmd := &cobra.Command{
		Use:   "upload FILE...",
		Short: "Upload files to a server's blob store and print their digests",
		Long: `Upload files (a folder: every file under it) to the server's content-addressed
blob store, skipping those it already has, and print "digest  path" per file.
modelgate run does this by itself for every file a config names.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := serverClient(serverURL, token)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			for _, a := range args {
				abs, err := filepath.Abs(a)
				if err != nil {
					return usageErr(err)
				}
				files, _, err := c.Upload(cmd.Context(), client.UploadParams{Root: filepath.Dir(abs), Paths: []string{filepath.Base(abs)}, Progress: cmd.ErrOrStderr(), CacheDir: uploadCacheDir()})
				if err != nil {
					return serverErr(err)
				}
				for _, name := range sortedKeys(files) {
					fmt.Fprintf(out, "%s  %s\n", files[name], filepath.Join(filepath.Dir(a), filepath.FromSlash(name)))
				}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&serverURL, "server", "", "server URL (default $MODELGATE_SERVER or http://127.0.0.1:8080)")
	cmd.Flags().StringVar(&token, "token", "", "API token (default $MODELGATE_TOKEN)")
	return cmd
}

func sortedKeys(m map[string]string) []string {
	return slices.Sorted(maps.Keys(m))
}

// uploadCacheDir is where the client remembers digests of files it
// uploaded (so a file is read once when new and not at all when known):
// MODELGATE_UPLOAD_CACHE, "off" for none, default the user's cache folder.
func uploadCacheDir() string {
	switch v := os.Getenv("MODELGATE_UPLOAD_CACHE"); v {
	case "off":
		return ""
	case "":
		d, err := os.UserCacheDir()
		if err != nil {
			return ""
		}
		return filepath.Join(d, "modelgate")
	default:
		return v
	}
}
