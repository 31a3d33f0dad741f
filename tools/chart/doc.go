// Package chart draws the reviewers' evidence as self-contained SVG
// (no script, no network, no fonts to fetch): metric deltas with their
// confidence intervals, ROC and precision-recall curves of two models
// overlaid, a reliability diagram, reference-vs-current histograms and
// counts by category.
//
// Every chart is an <svg role="img"> with a <title> and a <desc> that
// state its numbers in words, axis labels, and a <title> on each mark
// carrying the exact value drawn, so that a screen reader, a test in a
// real browser and a reviewer hovering the mark read the same evidence.
// Inputs come from models and users (column names, slice values): every
// text is escaped, and NaN or infinite numbers are left out or clipped,
// never written into the SVG, so that any input renders valid markup.
//
// Downsample bounds a curve's size for storage in a report: it keeps the
// end points and removes the vertices whose removal changes the area
// under the polyline least (Visvalingam–Whyatt), so that the drawn
// curve keeps the shape that defines its AUC.
package chart
