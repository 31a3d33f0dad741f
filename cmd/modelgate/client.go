package main

import (
	"errors"
	"fmt"
	"net/url"

	"github.com/modelgate/modelgate/internal/api/client"
)

// serverClient builds the API client every server-talking command uses,
// refusing a malformed --server or a missing token before any request.
func serverClient(server, token string) (*client.Client, error) {
	c := client.New(server, token)
	u, err := url.Parse(c.Base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, usageErr(fmt.Errorf("--server %q is not an http(s) URL", c.Base))
	}
	if c.Token == "" {
		return nil, usageErr(errors.New("no token: pass --token or set MODELGATE_TOKEN"))
	}
	return c, nil
}

// serverErr maps a server's answer to the exit-code contract, the same
// for every command: what the caller got wrong (a malformed request, a
// bad token, an unknown id, an invalid config) is 2; what the server
// refused or could not do (forbidden, already decided, expired, a
// conflict, unreachable) is 1.
func serverErr(err error) error {
	var ae *client.Error
	if errors.As(err, &ae) {
		switch ae.Status {
		case 400, 401, 404, 413, 422:
			return usageErr(err)
		case 409:
			if ae.Code == "ambiguous_id" {
				return usageErr(err) // a short id that needs more characters
			}
		case 403:
			// Refused by the authorization policy: a CI job must tell "not
			// allowed" from "the model failed" without parsing messages.
			return &exitError{code: 3, err: err}
		}
	}
	return checkFailed(err)
}
