package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/charmbracelet/log"
	"github.com/spf13/cobra"
	"golang.org/x/term"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// commands registered by each command's file in init.
var commands []func() *cobra.Command

// register adds a command constructor; every command file calls it from init.
func register(f func() *cobra.Command) { commands = append(commands, f) }

// globalFlags are the flags every command has.
type globalFlags struct {
	logLevel  string
	logFormat string
}

func newRoot(stdout, stderr io.Writer) *cobra.Command {
	// Flags are per root, not package variables, so that tests may run
	// several CLIs at once.
	globals := &globalFlags{}
	root := &cobra.Command{
		Use:           "modelgate",
		Short:         "CI/CD for ML and LLM models: validate, evaluate, decide, roll out, audit",
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			return setupLogging(stderr, globals)
		},
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.PersistentFlags().StringVar(&globals.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	root.PersistentFlags().StringVar(&globals.logFormat, "log-format", "text", "log format: text or json")
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error { return usageErr(err) })
	for _, f := range commands {
		root.AddCommand(f())
	}
	return root
}

// execute runs the CLI and maps the outcome to the exit-code contract:
// 0 success, 1 the thing checked failed, 2 bad usage or unreadable input.
func execute(args []string, stdout, stderr io.Writer) int {
	root := newRoot(stdout, stderr)
	root.SetArgs(args)
	err := root.Execute()
	if err == nil {
		return 0
	}
	code := exitCode(err)
	var silent *silentError
	if !errors.As(err, &silent) {
		msg := err.Error()
		if strings.HasPrefix(msg, "unknown command") || strings.HasPrefix(msg, "unknown flag") ||
			strings.HasPrefix(msg, "accepts ") || strings.HasPrefix(msg, "requires ") {
			code = 2
		}
		fmt.Fprintln(stderr, "modelgate:", msg)
	}
	return code
}

func setupLogging(stderr io.Writer, globals *globalFlags) error {
	lvl, err := log.ParseLevel(globals.logLevel)
	if err != nil {
		return usageErr(fmt.Errorf("--log-level: %w", err))
	}
	l := log.NewWithOptions(stderr, log.Options{ReportTimestamp: true, Level: lvl})
	switch globals.logFormat {
	case "text":
	case "json":
		l.SetFormatter(log.JSONFormatter)
	default:
		return usageErr(fmt.Errorf("--log-format must be text or json, got %q", globals.logFormat))
	}
	log.SetDefault(l)
	return nil
}

// exitError carries an exit code through cobra.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// silentError is a failure whose report was already printed (e.g. a
// failed check whose table is on stdout); only its exit code matters.
type silentError struct{ code int }

func (e *silentError) Error() string { return fmt.Sprintf("exit %d", e.code) }

// usageErr marks bad usage or unreadable input: exit code 2.
func usageErr(err error) error {
	if err == nil {
		return nil
	}
	return &exitError{code: 2, err: err}
}

// checkFailed marks a failed check (drift, regression, unsafe, denied): exit 1.
func checkFailed(err error) error {
	if err == nil {
		return nil
	}
	return &exitError{code: 1, err: err}
}

// failSilently exits with code after the command has printed its own report.
func failSilently(code int) error { return &silentError{code: code} }

func exitCode(err error) int {
	var s *silentError
	if errors.As(err, &s) {
		return s.code
	}
	var e *exitError
	if errors.As(err, &e) {
		return e.code
	}
	return 1
}

// isTerminal reports whether w is an interactive terminal, to decide
// between live progress and plain, pipe-friendly output.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
