//! A check task that fails is said and started again: a panic in a probe
//! (a bug, an input nobody foresaw) must not leave its real "unknown"
//! forever without a word, as one did when `checktimeout=1e19` overflowed
//! the clock.
//!
//! [`supervised`] runs a task's future, catching a panic; it notes the
//! failure for the event log and starts the task again after a back-off
//! (1 s, doubling up to a minute), until the task ends normally. A task
//! is stopped by aborting it (`JoinHandle::abort`), back-off included.

use super::children::Notes;
use std::any::Any;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

/// The first wait before a failed task is started again.
const FIRST_BACKOFF: Duration = Duration::from_secs(1);
/// The longest wait.
const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// Run the futures `make` gives (`make(n)`: the `n`th start, from 0) one
/// after the other while each panics; return when one ends. `what` names
/// the task in the notes (`the check of 10.0.0.2:80`).
pub(super) async fn supervised<W, F, Fut>(what: W, mut make: F, notes: Notes)
where
    W: std::fmt::Display,
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = ()>,
{
    let mut backoff = FIRST_BACKOFF;
    let mut start = 0u32;
    loop {
        let run = CatchUnwind(Box::pin(make(start)));
        let Err(panic) = run.await else {
            return;
        };
        notes.lock().unwrap().push(format!(
            "Error: {what} failed ({}); starting it again in {}s",
            panic_message(&*panic),
            backoff.as_secs()
        ));
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
        start = start.saturating_add(1);
    }
}

/// The text of a panic's payload.
fn panic_message(p: &(dyn Any + Send)) -> String {
    let msg = if let Some(s) = p.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "no message".to_string()
    };
    format!("panicked: {msg}")
}

/// A future whose panic is returned as an error instead of unwinding into
/// the runtime.
struct CatchUnwind<F>(Pin<Box<F>>);

impl<F: Future> Future for CatchUnwind<F> {
    type Output = Result<F::Output, Box<dyn Any + Send>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let inner = self.0.as_mut();
        // The future is dropped after a panic (never polled again), so no
        // broken state of it can be seen.
        match std::panic::catch_unwind(AssertUnwindSafe(|| inner.poll(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(v)) => Poll::Ready(Ok(v)),
            Err(p) => Poll::Ready(Err(p)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::sync::Arc;

    #[tokio::test(start_paused = true)]
    async fn a_task_that_panics_is_noted_and_started_again() {
        let notes = Notes::default();
        let runs = Arc::new(AtomicU32::new(0));
        let r = runs.clone();
        supervised(
            "the check of 10.0.0.2:80",
            move |n| {
                let r = r.clone();
                async move {
                    r.fetch_add(1, Ordering::SeqCst);
                    tokio::task::yield_now().await;
                    assert!(n >= 2, "overflow when adding duration to instant");
                }
            },
            notes.clone(),
        )
        .await;
        assert_eq!(runs.load(Ordering::SeqCst), 3);
        let lines = notes.lock().unwrap().clone();
        assert_eq!(
            lines,
            [
                "Error: the check of 10.0.0.2:80 failed (panicked: overflow when adding duration to instant); starting it again in 1s",
                "Error: the check of 10.0.0.2:80 failed (panicked: overflow when adding duration to instant); starting it again in 2s",
            ]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_cancelled_task_is_not_started_again() {
        let notes = Notes::default();
        let runs = Arc::new(AtomicU32::new(0));
        let r = runs.clone();
        let h = tokio::spawn(supervised(
            "the check of 10.0.0.3:80",
            move |_| {
                let r = r.clone();
                async move {
                    r.fetch_add(1, Ordering::SeqCst);
                    panic!("{}", "always");
                }
            },
            notes.clone(),
        ));
        tokio::time::sleep(Duration::from_millis(1500)).await;
        h.abort();
        assert!(h.await.unwrap_err().is_cancelled());
        tokio::time::sleep(Duration::from_secs(10)).await;
        assert_eq!(runs.load(Ordering::SeqCst), 2);
        assert_eq!(notes.lock().unwrap().len(), 2);
    }
}
