package modelgate.promotion

# Answers with a string where an object is due: the engine must deny.
decision := "allow"
