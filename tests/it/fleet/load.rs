//! Clients sending bounded load through the balancer, and what they saw: every answer a 302
//! whose URL verifies with the public keys (or, for one subject over its limit, a 429).

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use signgate_testkit::http::{client, location};

use super::setup::{key_pair_id, Fleet};
use super::{CLIENTS, PACE};

/// What the clients of one phase saw.
#[derive(Default)]
pub(super) struct Tally {
    pub(super) answered: u64,
    pub(super) failures: Vec<String>,
    /// Every distinct URL handed out.
    pub(super) urls: HashSet<String>,
    /// (when the answer arrived, its status), for the rate phase.
    pub(super) events: Vec<(Instant, u16)>,
}

impl Tally {
    pub(super) fn merge(&mut self, other: Tally) {
        self.answered += other.answered;
        self.failures.extend(other.failures);
        self.urls.extend(other.urls);
        self.events.extend(other.events);
    }

    pub(super) fn by_key(&self) -> BTreeMap<String, usize> {
        let mut counts = BTreeMap::new();
        for url in &self.urls {
            *counts.entry(key_pair_id(url).to_owned()).or_default() += 1;
        }
        counts
    }

    pub(super) fn assert_clean(&self, phase: &str) {
        eprintln!(
            "fleet {phase}: {} requests answered, {} distinct URLs {:?}, {} failed",
            self.answered,
            self.urls.len(),
            self.by_key(),
            self.failures.len()
        );
        assert!(self.answered > 0, "{phase}: no request was answered");
        assert!(
            self.failures.is_empty(),
            "{phase}: {} of {} requests failed, first: {:?}",
            self.failures.len(),
            self.answered + self.failures.len() as u64,
            &self.failures[..self.failures.len().min(5)]
        );
    }
}

/// Clients sending requests through the balancer until stopped.
pub(super) struct Load {
    pub(super) stop: Arc<AtomicBool>,
    /// When the first 429 arrived, if one has.
    pub(super) first_refusal: Arc<OnceLock<Instant>>,
    pub(super) clients: Vec<tokio::task::JoinHandle<Tally>>,
}

/// What the clients ask for.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Traffic {
    /// Each client its own subjects (never near their limit), half for the RSA rule's objects,
    /// half for the ECDSA rule's; every answer must be a 302 whose URL verifies.
    Spread,
    /// One subject from every client as fast as they can: 302s and 429s.
    OneSubject,
}

impl Load {
    pub(super) fn start(fleet: &Fleet, traffic: Traffic) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let first_refusal = Arc::new(OnceLock::new());
        let clients = (0..CLIENTS * if traffic == Traffic::OneSubject { 2 } else { 1 })
            .map(|c| {
                let (stop, layout) = (stop.clone(), fleet.layout.clone());
                let first_refusal = first_refusal.clone();
                let base = fleet.lb.url("/files/");
                let subjects: Vec<(String, String)> = (0..8)
                    .map(|s| match traffic {
                        Traffic::Spread => format!("client{c}-{s}"),
                        Traffic::OneSubject => "hog".to_owned(),
                    })
                    .map(|sub| (layout.token(&sub), sub))
                    .collect();
                tokio::spawn(async move {
                    let http = client();
                    let mut tally = Tally::default();
                    let mut n = 0usize;
                    while !stop.load(Ordering::Relaxed) {
                        let (token, sub) = &subjects[n % subjects.len()];
                        let path = if n.is_multiple_of(2) {
                            format!("users/{sub}/clip{}.mp4", n % 5)
                        } else {
                            format!("video/{c}/part{}.ts", n % 7)
                        };
                        n += 1;
                        let sent = Instant::now();
                        let answer = http
                            .get(format!("{base}{path}"))
                            .bearer_auth(token)
                            .send()
                            .await;
                        let status = match answer {
                            Ok(r) if r.status() == 302 => {
                                let url = location(&r);
                                match layout.refusal(&url) {
                                    None => {
                                        tally.urls.insert(url);
                                    }
                                    Some(why) => {
                                        tally.failures.push(format!("{path}: {why}: {url}"))
                                    }
                                }
                                302
                            }
                            Ok(r) => {
                                let status = r.status().as_u16();
                                if status == 429 {
                                    let _ = first_refusal.set(Instant::now());
                                }
                                if !(traffic == Traffic::OneSubject && status == 429) {
                                    let body = r.text().await.unwrap_or_default();
                                    tally.failures.push(format!("{path}: {status} {body}"));
                                }
                                status
                            }
                            Err(e) => {
                                tally.failures.push(format!("{path}: {e}"));
                                0
                            }
                        };
                        tally.answered += 1;
                        tally.events.push((Instant::now(), status));
                        if traffic == Traffic::Spread {
                            tokio::time::sleep(PACE.saturating_sub(sent.elapsed())).await;
                        }
                    }
                    tally
                })
            })
            .collect();
        Load {
            stop,
            first_refusal,
            clients,
        }
    }

    pub(super) async fn stop(self) -> Tally {
        self.stop.store(true, Ordering::Relaxed);
        let mut tally = Tally::default();
        for c in self.clients {
            tally.merge(c.await.unwrap());
        }
        tally
    }
}
