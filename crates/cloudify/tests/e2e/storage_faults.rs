//! Storage faults: SQLite locked by another process, render cache on a full disk (issue 8).
