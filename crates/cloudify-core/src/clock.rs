//! Wall-clock time, injectable for tests.

pub trait Clock: Send + Sync + 'static {
    fn now_ms(&self) -> u64;
    fn now_secs(&self) -> i64 {
        (self.now_ms() / 1000) as i64
    }
}

pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64)
    }
}
