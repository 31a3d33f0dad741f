package modelgate.promotion

allow := true
