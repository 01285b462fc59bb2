//! The rendered `/status` and `/metrics` pages, shared: every client asking
//! while a rendering is fresh gets the same bytes (reference-counted, never
//! copied), so a thousand clients cost one rendering, in time and memory.
//!
//! A rendering is reused while it is younger than [`REFRESH`] and neither
//! the table nor the config changed since (the director's generation), and
//! in any case for [`SPACING`] times what it cost: rendering takes at most
//! about a tenth of a core whatever the size of the config and however many
//! clients ask. Clients that ask while a rendering is under way wait for it.
//! The snapshot is taken on the director loop a slice at a time (see
//! `status_view.rs`); rendering runs on a blocking thread, off the loop.

use super::status_view::{Snapshotting, StatusSnapshot};
use crate::output::status::{self, Page};
use bytes::Bytes;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::oneshot;
use tokio::time::Instant;

/// A rendering is reused at most this long when nothing changed.
pub const REFRESH: Duration = Duration::from_secs(1);
/// A rendering is reused for at least this many times what it cost.
pub const SPACING: u32 = 10;

/// The shared pages, the snapshot under way, and what makes a snapshot
/// cheap.
#[derive(Default)]
pub(super) struct StatusCache {
    status: Arc<Mutex<Slot>>,
    metrics: Arc<Mutex<Slot>>,
    /// The snapshot being taken, a slice per turn of the loop.
    pub(super) snapshotting: Option<Snapshotting>,
    /// Each check's description, by check id (made once, shared).
    pub(super) describe: HashMap<u64, Arc<str>>,
}

/// One page: its last rendering, and the clients waiting for the next.
#[derive(Default)]
struct Slot {
    done: Option<Rendered>,
    rendering: bool,
    waiters: Vec<oneshot::Sender<Bytes>>,
}

struct Rendered {
    body: Bytes,
    /// When its snapshot was taken.
    at: Instant,
    /// The director's generation then.
    generation: u64,
    /// Snapshot and rendering together.
    cost: Duration,
}

impl Rendered {
    fn fresh(&self, generation: u64, now: Instant) -> bool {
        let age = now.saturating_duration_since(self.at);
        age < self.cost.saturating_mul(SPACING) || (generation == self.generation && age < REFRESH)
    }
}

/// What [`StatusCache::ask`] did with a request.
pub(super) enum Answer {
    /// Answered from the last rendering, or queued for the one under way.
    Done,
    /// Queued; the caller must take a snapshot and start this rendering.
    Render(RenderJob),
}

fn lock(slot: &Mutex<Slot>) -> MutexGuard<'_, Slot> {
    slot.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl StatusCache {
    /// Answer a request for `page` (not `/healthz`) at the director's
    /// `generation`, or queue it.
    pub(super) fn ask(&self, page: Page, generation: u64, reply: oneshot::Sender<Bytes>) -> Answer {
        let slot = match page {
            Page::Metrics => &self.metrics,
            _ => &self.status,
        };
        let mut s = lock(slot);
        if let Some(r) = s
            .done
            .as_ref()
            .filter(|r| r.fresh(generation, Instant::now()))
        {
            let _ = reply.send(r.body.clone());
            return Answer::Done;
        }
        s.waiters.retain(|w| !w.is_closed());
        s.waiters.push(reply);
        if s.rendering {
            return Answer::Done;
        }
        s.rendering = true;
        Answer::Render(RenderJob {
            slot: slot.clone(),
            page,
            generation,
        })
    }
}

/// A rendering to make (see [`render`]).
pub(super) struct RenderJob {
    slot: Arc<Mutex<Slot>>,
    page: Page,
    generation: u64,
}

/// Render `snap` (taken from `started` on) for each of `jobs` on a
/// blocking thread, keep each page, and answer every waiting client with
/// it. Should that fail, the waiting clients get a 503 and the next request
/// tries again.
pub(super) fn render(jobs: Vec<RenderJob>, snap: StatusSnapshot, started: Instant) {
    let mut publish: Vec<Publish> = jobs
        .into_iter()
        .map(|job| Publish {
            job,
            published: false,
        })
        .collect();
    tokio::task::spawn_blocking(move || {
        let st = snap.into_status();
        for p in &mut publish {
            let body = match p.job.page {
                Page::Metrics => status::format_metrics(&st).into_bytes(),
                _ => serde_json::to_vec_pretty(&st).unwrap_or_default(),
            };
            let generation = p.job.generation;
            p.publish(Some(Rendered {
                body: Bytes::from(body),
                at: started,
                generation,
                cost: started.elapsed(),
            }));
        }
    });
}

/// Ends a rendering: publishes it, or, dropped unpublished (a panic, a
/// runtime shutting down), ends it empty.
struct Publish {
    job: RenderJob,
    published: bool,
}

impl Publish {
    /// Keep `done` and answer every waiting client with it; `None`: drop
    /// the waiting clients (a 503 each).
    fn publish(&mut self, done: Option<Rendered>) {
        self.published = true;
        let mut s = lock(&self.job.slot);
        s.rendering = false;
        let waiters = std::mem::take(&mut s.waiters);
        if let Some(done) = done {
            for w in waiters {
                let _ = w.send(done.body.clone());
            }
            s.done = Some(done);
        }
    }
}

impl Drop for Publish {
    fn drop(&mut self) {
        if !self.published {
            self.publish(None);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rendered(cost_ms: u64, generation: u64) -> Rendered {
        Rendered {
            body: Bytes::from_static(b"x"),
            at: Instant::now(),
            generation,
            cost: Duration::from_millis(cost_ms),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn reused_while_fresh() {
        let cheap = rendered(1, 7);
        let t = cheap.at;
        // Nothing changed: reused up to REFRESH.
        assert!(cheap.fresh(7, t + Duration::from_millis(999)));
        assert!(!cheap.fresh(7, t + REFRESH));
        // The table changed: reused only for SPACING times its cost.
        assert!(cheap.fresh(8, t + Duration::from_millis(9)));
        assert!(!cheap.fresh(8, t + Duration::from_millis(10)));
        // An expensive rendering: reused for ten times its cost, whatever
        // changed.
        let dear = rendered(400, 7);
        assert!(dear.fresh(9, dear.at + Duration::from_millis(3999)));
        assert!(!dear.fresh(9, dear.at + Duration::from_secs(4)));
    }

    #[tokio::test]
    async fn one_rendering_answers_every_waiting_client() {
        let cache = StatusCache::default();
        let (tx1, rx1) = oneshot::channel();
        let (tx2, rx2) = oneshot::channel();
        let Answer::Render(job) = cache.ask(Page::Status, 1, tx1) else {
            panic!("the first request starts a rendering");
        };
        assert!(matches!(cache.ask(Page::Status, 1, tx2), Answer::Done));
        Publish {
            job,
            published: false,
        }
        .publish(Some(rendered(1, 1)));
        let (a, b) = (rx1.await.unwrap(), rx2.await.unwrap());
        assert_eq!(a, b);
        // Same storage: shared, not copied.
        assert_eq!(a.as_ptr(), b.as_ptr());
        // A third client gets it from the cache.
        let (tx3, rx3) = oneshot::channel();
        assert!(matches!(cache.ask(Page::Status, 1, tx3), Answer::Done));
        assert_eq!(rx3.await.unwrap().as_ptr(), a.as_ptr());
    }

    #[tokio::test]
    async fn a_failed_rendering_fails_its_clients_and_the_next_request_retries() {
        let cache = StatusCache::default();
        let (tx, rx) = oneshot::channel();
        let Answer::Render(job) = cache.ask(Page::Metrics, 1, tx) else {
            panic!("the first request starts a rendering");
        };
        drop(Publish {
            job,
            published: false,
        });
        assert!(rx.await.is_err());
        let (tx, _rx) = oneshot::channel();
        assert!(matches!(cache.ask(Page::Metrics, 1, tx), Answer::Render(_)));
    }
}
