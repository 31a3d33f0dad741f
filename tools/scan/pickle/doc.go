// Package pickle analyses Python pickle streams (protocols 0 to 5) by
// walking their opcodes, never by unpickling them. It models the
// unpickler's stack, marks and memo closely enough that GLOBAL,
// STACK_GLOBAL, INST and OBJ resolve to the module and name really
// imported — also when the operand strings come out of the memo — and
// that every REDUCE, BUILD, NEWOBJ and NEWOBJ_EX knows what it calls.
//
// Grading is an allowlist at the core (DefaultAllow: numpy, torch,
// scikit-learn and builtin containers) and a denylist for severity
// (DefaultDeny: the code-executing globals that ProtectAI's modelscan
// and Trail of Bits' fickling list, and more). Anything not allowed is
// at least high; denied, unresolvable or computed imports, calls of
// call results (getattr chains), BUILD on a class object and dunder
// attribute walks are critical. Limits bound memory and time on hostile
// streams; a malformed stream is a *FormatError with the offset.
package pickle
