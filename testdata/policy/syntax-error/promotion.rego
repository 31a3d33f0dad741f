package modelgate.promotion

decision := {"allow": true if {
