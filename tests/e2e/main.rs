//! End-to-end tests across crates. Each module is one area.
