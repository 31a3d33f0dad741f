// Package security is the pipeline's security agent (stage "scan"). It
// scans the candidate's artifact — a file or a folder — with tools/scan,
// builds the manifest of SHA-256 digests, checks the digest recorded for
// the candidate, verifies the Ed25519 signature when the pipeline
// requires one (tools/sign), and reports metrics and findings.
//
// Verdict: fail when any file is unsafe or invalid or any finding is
// critical or high (signature, digest, size), warn on medium or low
// findings, pass otherwise. Whether a candidate may be promoted is the
// policy's decision; the agent only reports the evidence.
//
// Metrics: scan.files, scan.safe, scan.unsafe, scan.invalid, scan.bytes,
// scan.findings.{critical,high,medium,low,info}, and when checked
// scan.digest.match and scan.signature.{required,verified} (0 or 1).
package security
