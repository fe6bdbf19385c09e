//! The upload machinery shared by the network outputs: a bounded, in-order queue drained by one
//! worker on the background runtime's blocking pool, so that callers never wait for HTTP.
//!
//! - Transport failures, 408, 429 and 5xx are retried with exponential backoff (0.25 s … 10 s),
//!   the failed job staying at the head so order is kept.
//! - Any other 4xx is final: the job is dropped and the server's message reported.
//! - When the queue is full, the newest job is merged into the last queued one (for deltas a sum,
//!   for totals a replacement), so memory is bounded and nothing measured is lost.
//! - `finish` (from `stop`) waits up to a deadline, then reports what was not delivered and tells
//!   the worker to give up.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::error::{Error, ErrorKind};
use crate::log::Logger;

pub const MAX_QUEUED: usize = 64;
const BACKOFF_START: Duration = Duration::from_millis(250);
const BACKOFF_MAX: Duration = Duration::from_secs(10);

/// What one attempt to deliver a job gave.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Delivered,
    /// Worth retrying (transport error, 408, 429, 5xx).
    Retry(String),
    /// The server refused it for good (other 4xx): drop the job.
    Rejected(String),
}

/// Classifies an HTTP result for jobs that succeed on any 2xx.
pub fn classify(result: Result<crate::http::Response, String>, what: &str) -> Outcome {
    match result {
        Err(e) => Outcome::Retry(format!("{what}: {e}")),
        Ok(r) if (200..300).contains(&r.status) => Outcome::Delivered,
        Ok(r) if r.status == 408 || r.status == 429 || r.status >= 500 => {
            Outcome::Retry(format!("{what}: HTTP {} {}", r.status, truncate(&r.body)))
        }
        Ok(r) => Outcome::Rejected(format!("{what}: HTTP {} {}", r.status, truncate(&r.body))),
    }
}

pub fn truncate(s: &str) -> String {
    let s = s.trim();
    match s.char_indices().nth(300) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

/// A place jobs go to.
pub trait Destination: Send + Sync + 'static {
    type Job: Clone + Send + 'static;
    /// Folds `later` into `queued` when the queue is full.
    fn merge(queued: &mut Self::Job, later: Self::Job);
    /// One delivery attempt (blocking, on the blocking pool). `cancelled()` turns true when
    /// `finish` gave up: a multi-request send should stop between requests.
    fn send(&self, job: &Self::Job, cancelled: &dyn Fn() -> bool) -> Outcome;
    /// For messages: where the jobs go.
    fn name(&self) -> String;
}

/// Distinct rejection reasons kept for the final message.
const MAX_REASONS: usize = 3;

struct State<J> {
    /// (sequence number, job): only the job that was sent is popped when its attempt ends.
    queue: VecDeque<(u64, J)>,
    next_seq: u64,
    worker_running: bool,
    /// Set by `finish` when its deadline passed: the worker stops retrying.
    given_up: bool,
    rejected: usize,
    reasons: Vec<String>,
    last_retry_error: Option<String>,
}

struct Shared<D: Destination> {
    dest: D,
    log: Logger,
    state: Mutex<State<D::Job>>,
    /// Wakes `finish` when the queue changes.
    changed: Condvar,
    /// Wakes the worker out of its backoff when `finish` gives up.
    wake: tokio::sync::Notify,
}

pub struct Uploader<D: Destination> {
    shared: Arc<Shared<D>>,
}

impl<D: Destination> Uploader<D> {
    pub fn new(dest: D, log: Logger) -> Self {
        let state = State {
            queue: VecDeque::new(),
            next_seq: 0,
            worker_running: false,
            given_up: false,
            rejected: 0,
            reasons: Vec::new(),
            last_retry_error: None,
        };
        Uploader {
            shared: Arc::new(Shared { dest, log, state: Mutex::new(state), changed: Condvar::new(), wake: tokio::sync::Notify::new() }),
        }
    }

    pub fn destination(&self) -> &D {
        &self.shared.dest
    }

    /// Queues `job` and makes sure a worker is draining the queue. Never blocks on the network.
    pub fn push(&self, job: D::Job) {
        let mut st = self.shared.lock();
        if st.queue.len() >= MAX_QUEUED {
            D::merge(&mut st.queue.back_mut().expect("queue is full").1, job);
        } else {
            let seq = st.next_seq;
            st.next_seq += 1;
            st.queue.push_back((seq, job));
        }
        st.given_up = false;
        if !st.worker_running {
            st.worker_running = crate::background::spawn(drain(self.shared.clone())).is_some();
            if !st.worker_running {
                self.shared.log.error("no background runtime: uploads cannot be sent");
            }
        }
    }

    /// Jobs waiting (including one being sent).
    #[cfg(test)]
    pub fn pending(&self) -> usize {
        self.shared.lock().queue.len()
    }

    /// Waits up to `timeout` for the queue to drain; then the worker gives up. `Err` tells how
    /// many jobs were not delivered and why.
    pub fn finish(&self, timeout: Duration) -> Result<(), Error> {
        let started = Instant::now();
        let deadline = started + timeout;
        let mut st = self.shared.lock();
        while st.worker_running && !st.queue.is_empty() {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            st = self.shared.changed.wait_timeout(st, deadline - now).unwrap_or_else(|p| p.into_inner()).0;
        }
        let lost = st.queue.len() + st.rejected;
        let result = if lost == 0 {
            Ok(())
        } else {
            let mut why = st.reasons.clone();
            why.extend(st.last_retry_error.clone().filter(|_| !st.queue.is_empty()));
            let why = if why.is_empty() { "no answer".to_string() } else { why.join(" | ") };
            Err(Error::new(
                ErrorKind::Network,
                format!(
                    "{lost} upload(s) to {} not delivered ({} still queued after {:.1} s, {} rejected): {why}",
                    self.shared.dest.name(),
                    st.queue.len(),
                    started.elapsed().as_secs_f64(),
                    st.rejected
                ),
            ))
        };
        st.given_up = true;
        st.queue.clear();
        st.rejected = 0;
        st.reasons.clear();
        self.shared.changed.notify_all();
        self.shared.wake.notify_one();
        result
    }

    #[cfg(test)]
    fn queued_jobs(&self) -> Vec<D::Job> {
        self.shared.lock().queue.iter().map(|(_, j)| j.clone()).collect()
    }
}

impl<D: Destination> Shared<D> {
    fn lock(&self) -> MutexGuard<'_, State<D::Job>> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The worker: an async task on the runtime thread. Only a send attempt occupies a thread of
/// the blocking pool; backoff waits are timers, so failing destinations cannot starve others.
async fn drain<D: Destination>(shared: Arc<Shared<D>>) {
    let mut backoff = BACKOFF_START;
    loop {
        let (seq, job) = {
            let mut st = shared.lock();
            match st.queue.front() {
                Some((seq, job)) if !st.given_up => (*seq, job.clone()),
                _ => {
                    st.worker_running = false;
                    shared.changed.notify_all();
                    return;
                }
            }
        };
        let sender = shared.clone();
        let outcome = crate::background::blocking(move || sender.dest.send(&job, &|| sender.lock().given_up))
            .await
            .unwrap_or_else(|| Outcome::Retry("upload attempt failed (panic)".into()));
        let wait = {
            let mut st = shared.lock();
            let sent_is_front = st.queue.front().is_some_and(|(s, _)| *s == seq);
            let wait = match outcome {
                Outcome::Delivered => {
                    if sent_is_front {
                        st.queue.pop_front();
                    }
                    backoff = BACKOFF_START;
                    None
                }
                Outcome::Rejected(msg) => {
                    shared.log.error(format!("upload rejected, dropped: {msg}"));
                    if sent_is_front {
                        st.queue.pop_front();
                        st.rejected += 1;
                        if st.reasons.len() < MAX_REASONS && !st.reasons.contains(&msg) {
                            st.reasons.push(msg);
                        }
                    }
                    None
                }
                Outcome::Retry(msg) => {
                    shared.log.warning(format!("upload failed, retrying in {:.2} s: {msg}", backoff.as_secs_f64()));
                    st.last_retry_error = Some(msg);
                    Some(backoff)
                }
            };
            shared.changed.notify_all();
            wait
        };
        if let Some(w) = wait {
            // Woken early when `finish` gives up.
            let _ = tokio::time::timeout(w, shared.wake.notified()).await;
            backoff = (backoff * 2).min(BACKOFF_MAX);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Fails the first `fail_first` attempts, records delivered jobs.
    struct Flaky {
        fail_first: usize,
        attempts: AtomicUsize,
        delivered: Mutex<Vec<u32>>,
        reject: Option<u32>,
    }

    impl Destination for Arc<Flaky> {
        type Job = u32;
        fn merge(queued: &mut u32, later: u32) {
            *queued += later;
        }
        fn send(&self, job: &u32, _cancelled: &dyn Fn() -> bool) -> Outcome {
            if self.attempts.fetch_add(1, Ordering::SeqCst) < self.fail_first {
                return Outcome::Retry("down".into());
            }
            if Some(*job) == self.reject {
                return Outcome::Rejected("HTTP 422 bad".into());
            }
            self.delivered.lock().unwrap().push(*job);
            Outcome::Delivered
        }
        fn name(&self) -> String {
            "test".into()
        }
    }

    fn quiet() -> Logger {
        Logger { threshold: crate::log::Level::Critical, preamble: String::new() }
    }

    fn flaky(fail_first: usize, reject: Option<u32>) -> Arc<Flaky> {
        Arc::new(Flaky { fail_first, attempts: AtomicUsize::new(0), delivered: Mutex::new(vec![]), reject })
    }

    #[test]
    fn retries_keep_order() {
        let f = flaky(2, None);
        let u = Uploader::new(f.clone(), quiet());
        for j in 1..=5 {
            u.push(j);
        }
        u.finish(Duration::from_secs(5)).unwrap();
        assert_eq!(*f.delivered.lock().unwrap(), vec![1, 2, 3, 4, 5]);
    }

    #[test]
    fn rejected_jobs_are_dropped_and_reported() {
        let f = flaky(0, Some(2));
        let u = Uploader::new(f.clone(), quiet());
        for j in 1..=3 {
            u.push(j);
        }
        let e = u.finish(Duration::from_secs(5)).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Network);
        assert!(e.message.starts_with("1 upload(s)") && e.message.contains("422"), "{}", e.message);
        assert!(e.message.contains("1 rejected"), "{}", e.message);
        assert_eq!(*f.delivered.lock().unwrap(), vec![1, 3]);
    }

    #[test]
    fn full_queue_merges_instead_of_dropping() {
        let f = flaky(usize::MAX, None);
        let u = Uploader::new(f.clone(), quiet());
        for _ in 0..(MAX_QUEUED + 10) {
            u.push(1);
        }
        assert_eq!(u.pending(), MAX_QUEUED);
        let jobs = u.queued_jobs();
        assert_eq!(jobs.iter().sum::<u32>(), MAX_QUEUED as u32 + 10, "merged, not dropped");
        assert_eq!(*jobs.last().unwrap(), 11);
        let started = Instant::now();
        let e = u.finish(Duration::from_millis(300)).unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(2));
        assert!(e.message.contains("64 upload(s)") && e.message.contains("down"), "{}", e.message);
    }
}
