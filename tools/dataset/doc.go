// Package dataset reads tabular data (CSV and Parquet) into a columnar
// in-memory Frame, and streams larger-than-memory CSV files block by block
// for the bounded-memory drift mode.
//
// The CSV reader is a hand-written byte-level RFC 4180 parser: a reader
// goroutine cuts the input into blocks at record boundaries (quote aware),
// and one worker per CPU parses blocks straight into the file's columns,
// sized from the first block's bytes per line: a block's rows follow the
// newline counts of the blocks before it, and the gaps blank lines or
// quoted newlines leave are closed in order (place.go); blocks past the
// columns' capacity are parsed apart and appended. Block buffers are
// reused within a read. Memory stays at
// the size of the Frame plus a few blocks in flight; the file is never
// held whole. A block without a quote is parsed by a single loop with no
// per-field call (csvfast.go); anything unusual in it goes to the general
// record parser, which a differential fuzz target holds the fast path to.
// Options.Columns is a projection: other columns are only delimited.
//
// Type inference (overridable per column with Options.Types):
//
//  1. numeric: every non-missing value parses as a finite decimal number.
//     Missing is an empty field, or one of NA, N/A, NaN, nan, null, NULL,
//     None, none. Numbers are float64; 0/1 columns stay numeric.
//  2. boolean: every non-missing value is true or false (any case).
//  3. timestamp: every non-missing value is an RFC 3339 time, or
//     "2006-01-02", "2006-01-02 15:04:05" or "2006-01-02T15:04:05" (UTC).
//  4. categorical: anything else. Only an empty field is missing.
//
// Types are guessed from the first block (4 MiB) and confirmed on the
// whole file; a numeric guess that meets text later makes the reader parse
// the file again with that column as text, so the result never depends on
// the block size. Errors name the file, the 1-based data row (and the line
// when it differs), and the column.
package dataset
