// Package pickle analyses Python pickle streams (protocols 0 to 5) by
// walking their opcodes, never by unpickling them. It models the
// unpickler's stack, marks and memo closely enough that GLOBAL,
// STACK_GLOBAL, INST and OBJ resolve to the module and name really
// imported — also when the operand strings come out of the memo — and
// that every REDUCE, BUILD, NEWOBJ and NEWOBJ_EX knows what it calls.
//
// Grading is an exact allowlist (allowlist.tsv, generated from the
// installed scikit-learn, xgboost, pandas, numpy and scipy by
// gen_allowlist.py and embedded) with the re-exports of those libraries
// resolved to what they really are, a denylist for severity (the
// code-executing modules and names that ProtectAI's modelscan and Trail
// of Bits' fickling list, and more) and the library functions that reach
// them. Anything not allowed is at least high; denied, unresolvable or
// computed imports, calls of call results (getattr chains), BUILD on a
// class object and dunder
// attribute walks are critical. Limits bound memory and time on hostile
// streams; a malformed stream is a *FormatError with the offset.
package pickle
