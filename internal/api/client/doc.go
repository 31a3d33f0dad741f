// Package client is the CLI's client of modelgate's HTTP API: bearer
// token, JSON bodies, the API's error envelope turned into Go errors, and
// the server-sent event stream of a run.
package client
