package main

import "errors"

var errAuditBroken = errors.New("the audit trail did not verify")
