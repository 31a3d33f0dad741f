package modelgate.authz

default allow := false
