//! Poison-tolerant locking: the guarded books (webhooks, cards, resume points) stay
//! usable after a panicking holder, since every update to them is a single insert or remove.

use std::sync::{Mutex, MutexGuard, PoisonError};

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}
