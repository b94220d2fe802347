//! Memory handed back to the system once a burst of connections is over.
//!
//! glibc's allocator keeps freed memory in its heaps: after a few hundred slow clients have
//! filled header buffers and gone, the server stayed 6–10 MiB above its idle size, round after
//! round (300 clients holding 16 KB of unfinished headers each; measured here): glibc only gives
//! back the top of a heap, and one live block above the freed ones keeps them all. So when the
//! open connections fall to a quarter of a burst of at least [`BURST`], `malloc_trim` returns
//! every free page of every heap, on a blocking thread; the same rounds then end within about
//! 1.5 MiB of idle (`tests/it/request_frame.rs`).
//! Ordinary traffic never reaches a trim: it needs [`BURST`] connections open at once and then
//! most of them gone.
//!
//! The one place signgate calls the C library's allocator directly; with another C library the
//! trim does nothing.

use std::sync::atomic::{AtomicUsize, Ordering};

/// The open connections that count as a burst worth trimming after.
pub const BURST: usize = 64;

/// Open connections and the most open since the last trim.
#[derive(Debug, Default)]
pub struct Connections {
    open: AtomicUsize,
    peak: AtomicUsize,
}

impl Connections {
    /// A connection was accepted.
    pub fn opened(&self) {
        let open = self.open.fetch_add(1, Ordering::Relaxed) + 1;
        self.peak.fetch_max(open, Ordering::Relaxed);
    }

    /// A connection ended: true when that ends a burst, and memory should be trimmed.
    pub fn closed(&self) -> bool {
        let open = self.open.fetch_sub(1, Ordering::Relaxed) - 1;
        let peak = self.peak.load(Ordering::Relaxed);
        peak >= BURST
            && open <= peak / 4
            && self
                .peak
                .compare_exchange(peak, open, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
    }
}

/// Returns the allocator's free pages to the system (blocking: call it off the runtime).
pub fn trim() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim takes no pointers and is safe to call from any thread.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_trim_follows_a_burst_once_most_of_it_has_gone() {
        let c = Connections::default();
        for _ in 0..100 {
            c.opened();
        }
        let trims: usize = (0..100).map(|_| usize::from(c.closed())).sum();
        assert_eq!(trims, 1, "one trim when the burst fell to a quarter");
        // Ordinary traffic: a few connections at a time never trims.
        for _ in 0..1000 {
            c.opened();
            c.opened();
            assert!(!c.closed());
            assert!(!c.closed());
        }
    }

    #[test]
    fn a_second_burst_trims_again() {
        let c = Connections::default();
        for _ in 0..2 {
            for _ in 0..BURST {
                c.opened();
            }
            let trims: usize = (0..BURST).map(|_| usize::from(c.closed())).sum();
            assert_eq!(trims, 1);
        }
    }
}
