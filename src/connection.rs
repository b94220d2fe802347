//! The watch on each client connection: its next request's headers must arrive within
//! `server.header_read_timeout_ms` of the connection opening or of its last answer, or it is
//! closed. That cuts off clients that send their headers slowly and keep-alive connections left
//! idle, without a timer per request.
//!
//! hyper can do the same (its HTTP/1 header-read timeout), but it arms a timer each time it
//! starts reading a request and cancels it when the headers are in: on a cached answer that was
//! ~1,500 of ~21,800 instructions (`bench/instructions`, `bench/README.md`). Here a connection has
//! one timer that fires four times per timeout, and each request bumps two counters.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

/// What a connection's requests report to its [`Watch`]: how many are in flight, and a count of
/// every start and end.
#[derive(Default)]
pub struct Activity {
    in_flight: AtomicUsize,
    events: AtomicU64,
}

impl Activity {
    /// A request begins; it counts as in flight until the guard is dropped (when its answer is
    /// ready, or when it is abandoned).
    pub fn begin(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Relaxed);
        self.events.fetch_add(1, Relaxed);
        InFlight(self.clone())
    }

    /// Requests in flight now.
    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Relaxed)
    }
}

/// One request in flight on a connection.
pub struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Relaxed);
        self.0.events.fetch_add(1, Relaxed);
    }
}

/// Quiet checks in a row that close a connection: it is checked every `timeout / QUARTERS`.
const QUARTERS: u32 = 4;

/// A connection's watch: [`Watch::expired`] completes once the connection has had no request in
/// flight and none begun or ended for at least the timeout (and at most a quarter more).
pub struct Watch {
    activity: Arc<Activity>,
    every: Duration,
}

impl Watch {
    pub fn new(timeout: Duration) -> Self {
        Watch {
            activity: Arc::default(),
            every: (timeout / QUARTERS).max(Duration::from_millis(1)),
        }
    }

    /// What the connection's requests report to.
    pub fn activity(&self) -> Arc<Activity> {
        self.activity.clone()
    }

    /// A quarter of the timeout: after [`Watch::expired`], how long a connection told to close
    /// may take before it is dropped.
    pub async fn grace(&self) {
        tokio::time::sleep(self.every).await;
    }

    /// Completes when the connection has been quiet for the timeout: four checks in a row that
    /// find nothing in flight and nothing begun or ended since the check before. A request that
    /// ends just after a check is seen by the next one, so the quiet time before the cut is at
    /// least four intervals, the whole timeout.
    pub async fn expired(&self) {
        let mut seen = self.activity.events.load(Relaxed);
        let mut quiet = 0;
        loop {
            tokio::time::sleep(self.every).await;
            let events = self.activity.events.load(Relaxed);
            if events != seen || self.activity.in_flight() > 0 {
                seen = events;
                quiet = 0;
                continue;
            }
            quiet += 1;
            if quiet == QUARTERS {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::time::Instant;

    /// How long `expired` takes, in paused time, while `during` runs beside it.
    async fn expiry_after<F: std::future::Future<Output = ()>>(
        watch: &Watch,
        during: F,
    ) -> Duration {
        let started = Instant::now();
        let expired = watch.expired();
        tokio::pin!(expired);
        tokio::pin!(during);
        let mut during_done = false;
        loop {
            tokio::select! {
                biased;
                () = &mut expired => return started.elapsed(),
                () = &mut during, if !during_done => during_done = true,
            }
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_quiet_connection_is_cut_after_the_timeout_and_at_most_a_quarter_later() {
        let watch = Watch::new(Duration::from_millis(400));
        let took = expiry_after(&watch, std::future::pending()).await;
        assert!(took >= Duration::from_millis(400), "{took:?}");
        assert!(took <= Duration::from_millis(500), "{took:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_request_in_flight_keeps_its_connection_however_long_it_takes() {
        let watch = Watch::new(Duration::from_millis(400));
        let activity = watch.activity();
        let during = async move {
            let request = activity.begin();
            tokio::time::sleep(Duration::from_secs(5)).await;
            drop(request);
        };
        let took = expiry_after(&watch, during).await;
        // Five seconds in flight, then the whole timeout of quiet.
        assert!(took >= Duration::from_millis(5400), "{took:?}");
        assert!(took <= Duration::from_millis(5500), "{took:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn the_quiet_time_is_counted_from_the_last_answer_wherever_it_falls() {
        // Requests every 300 ms (less than the timeout) keep the connection; after the last
        // one ends, at any offset from the checks, the cut comes at least a timeout later.
        for offset_ms in [0, 1, 50, 99, 100, 101, 250] {
            let watch = Watch::new(Duration::from_millis(400));
            let activity = watch.activity();
            let last_end = Arc::new(std::sync::Mutex::new(None));
            let end = last_end.clone();
            let during = async move {
                tokio::time::sleep(Duration::from_millis(offset_ms)).await;
                for _ in 0..10 {
                    let request = activity.begin();
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    drop(request);
                    *end.lock().unwrap() = Some(Instant::now());
                    tokio::time::sleep(Duration::from_millis(300)).await;
                }
            };
            let started = Instant::now();
            let took = expiry_after(&watch, during).await;
            let last = last_end.lock().unwrap().expect("the requests ran") - started;
            let quiet = took - last;
            assert!(
                took > Duration::from_millis(2900),
                "offset {offset_ms}: cut at {took:?}"
            );
            assert!(
                quiet >= Duration::from_millis(400),
                "offset {offset_ms}: {quiet:?}"
            );
            assert!(
                quiet <= Duration::from_millis(500),
                "offset {offset_ms}: {quiet:?}"
            );
        }
    }
}
