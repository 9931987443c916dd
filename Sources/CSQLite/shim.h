#include <sqlite3.h>

/// SQLITE_TRANSIENT is a cast macro, which Swift cannot import: this hands it over as a function.
/// Binding with it makes SQLite copy the bytes before the bind call returns.
static inline sqlite3_destructor_type csqlite_transient(void) { return SQLITE_TRANSIENT; }

/// SQLITE_STATIC, for the same reason: SQLite uses the bytes where they are, until the statement is
/// reset or rebound, without copying them.
static inline sqlite3_destructor_type csqlite_static(void) { return SQLITE_STATIC; }
