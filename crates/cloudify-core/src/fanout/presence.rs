//! Who is online on an instance: active within the presence window, with it as their
//! active instance.

use crate::store::{Result, Store};
use uuid::Uuid;

pub fn online_handles(
    s: &Store,
    instance: Uuid,
    now: i64,
    window_secs: i64,
) -> Result<Vec<String>> {
    Ok(s.members(instance)?
        .into_iter()
        .filter(|(b, u)| now - b.last_active <= window_secs && u.active_instance == Some(instance))
        .map(|(_, u)| u.handle())
        .collect())
}
