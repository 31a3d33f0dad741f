package main

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/modelgate/modelgate/tools/sign"
)

func init() { register(newSignCmd) }

func newSignCmd() *cobra.Command {
	var key, out string
	cmd := &cobra.Command{
		Use:   "sign --key KEY PATH... [-o PATH.sig]",
		Short: "Sign a model artifact: Ed25519 over a manifest of SHA-256 digests",
		Long: `Sign a model file or folder. The manifest lists every file (path relative to PATH,
sha256, size) as canonical JSON; the signature file holds the manifest, the key id
and a base64 Ed25519 signature over it. Verify with 'modelgate sign verify', or let
the security agent verify it (security.require_signature in modelgate.yaml).`,
		Example: `  modelgate sign keygen --out release.key         # writes release.key and release.key.pub
  modelgate sign --key release.key ./model          # writes ./model.sig
  modelgate sign verify --key release.key.pub ./model`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if key == "" {
				return usageErr(errors.New("--key is required (create one with modelgate sign keygen --out KEY)"))
			}
			if len(args) > 1 && out == "" {
				return usageErr(errors.New("-o is required when signing several paths"))
			}
			priv, err := sign.LoadPrivateKey(key)
			if err != nil {
				return usageErr(err)
			}
			if out == "" {
				out = sign.DefaultSignaturePath(args[0])
			}
			m, err := sign.BuildAll(cmd.Context(), args, []string{out})
			if err != nil {
				return usageErr(err)
			}
			if err := sign.WriteSigned(out, sign.Sign(m, priv)); err != nil {
				return usageErr(err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "signed %d file(s), %d bytes, manifest %s\nsignature: %s\n", len(m.Files), m.Size(), m.Digest(), out)
			return nil
		},
	}
	cmd.Flags().StringVar(&key, "key", "", "Ed25519 private key (PKCS#8 PEM)")
	cmd.Flags().StringVarP(&out, "output", "o", "", "signature file (default PATH.sig)")
	cmd.AddCommand(newSignVerifyCmd(), newSignKeygenCmd(), newSignManifestCmd())
	return cmd
}

func newSignVerifyCmd() *cobra.Command {
	var key, sigPath string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "verify --key KEY.pub PATH... [--signature PATH.sig]",
		Short: "Verify an artifact against its signature; exit 1 when anything differs",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if key == "" {
				return usageErr(errors.New("--key is required (the .pub file written by modelgate sign keygen)"))
			}
			pub, err := sign.LoadPublicKey(key)
			if err != nil {
				return usageErr(err)
			}
			if sigPath == "" {
				if len(args) > 1 {
					return usageErr(errors.New("--signature is required when verifying several paths"))
				}
				sigPath = sign.DefaultSignaturePath(args[0])
			}
			signed, err := sign.ReadSigned(sigPath)
			if err != nil {
				return usageErr(err)
			}
			m, err := sign.BuildAll(cmd.Context(), args, []string{sigPath})
			if err != nil {
				return usageErr(err)
			}
			verr := sign.Verify(signed, pub, m)
			if asJSON {
				res := map[string]any{"paths": args, "signature": sigPath, "key_id": sign.KeyID(pub),
					"manifest_digest": m.Digest(), "verified": verr == nil, "problems": []string{}}
				var ve *sign.VerifyError
				if errors.As(verr, &ve) {
					res["problems"] = ve.Problems
				}
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				if err := enc.Encode(res); err != nil {
					return err
				}
				if verr != nil {
					return failSilently(1)
				}
				return nil
			}
			if verr != nil {
				return checkFailed(verr)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "verified: %d file(s) match the signature by key %s\n", len(m.Files), sign.KeyID(pub))
			return nil
		},
	}
	cmd.Flags().StringVar(&key, "key", "", "Ed25519 public key (PKIX PEM)")
	cmd.Flags().StringVar(&sigPath, "signature", "", "signature file (default PATH.sig)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the result as JSON")
	return cmd
}

func newSignKeygenCmd() *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "keygen --out KEY",
		Short: "Create an Ed25519 key pair: KEY (private, 0600) and KEY.pub",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if out == "" {
				return usageErr(errors.New("--out is required"))
			}
			pub, err := sign.GenerateKey(out)
			if err != nil {
				return usageErr(err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "private key: %s\npublic key:  %s\n", out, pub)
			return nil
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "private key file to create (refuses to overwrite)")
	return cmd
}

func newSignManifestCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "manifest PATH...",
		Short: "Print the canonical manifest (what is signed) of files and folders",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, err := sign.BuildAll(cmd.Context(), args, nil)
			if err != nil {
				return usageErr(err)
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "%s\n", m.Canonical())
			return err
		},
	}
}
