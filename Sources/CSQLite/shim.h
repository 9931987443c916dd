#include <sqlite3.h>

/// SQLITE_TRANSIENT is a cast macro, which Swift cannot import: this hands it over as a function.
/// Binding with it makes SQLite copy the bytes before the bind call returns.
static inline sqlite3_destructor_type csqlite_transient(void) { return SQLITE_TRANSIENT; }
