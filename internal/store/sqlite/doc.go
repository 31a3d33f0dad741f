// Package sqlite is the embedded Store driver: one SQLite file (through the
// pure-Go modernc.org/sqlite driver), no server to run. It is the default
// backend of `modelgate server`, which keeps it at
// ./modelgate-data/modelgate.db.
//
// The database runs in WAL mode so that readers never block the writer.
// Writes go through a single connection opened with BEGIN IMMEDIATE
// transactions, which serialises every writer of this process without
// SQLITE_BUSY round trips; other processes on the same file wait up to the
// busy timeout. Every compare-and-swap (run transitions, approval
// decisions, production pointers, rollouts, audit appends) happens inside
// one such transaction, so a loser sees ErrConflict and wrote nothing.
//
// Durability: synchronous=NORMAL in WAL mode means a committed transaction
// survives a crash of the process (kill -9) but the last transactions
// before a power loss or kernel crash may be rolled back; the database is
// never corrupted. Set Options.Synchronous to "FULL" to fsync every commit
// at the cost of write throughput.
//
// The schema is versioned with PRAGMA user_version; Open applies pending
// migrations in order and refuses a database written by a newer binary.
package sqlite
