//! The probe's read buffer, reused between checks.
//!
//! Each HTTP check takes one [`Buffer`] from a small per-thread pool and
//! gives it back when it ends (verdict, error or deadline: the drop does it),
//! so a check allocates nothing for its request or its response in the
//! common case. A buffer starts at [`INITIAL`] bytes, enough for the request
//! and for the whole response of a typical health page; it grows (doubling,
//! up to the bound the caller gives) only for larger responses, and a grown
//! buffer is freed rather than pooled, so the pool holds only small ones.

use std::cell::RefCell;
use std::io::{self, Write};

/// Size of a pooled buffer.
pub(super) const INITIAL: usize = 4 * 1024;

/// Less room than this left in a full-size buffer: grow it first, rather
/// than make a tiny read.
const MIN_ROOM: usize = 512;

/// Most buffers a thread keeps for reuse (1 MiB per thread at most).
const KEEP: usize = 256;

thread_local! {
    static POOL: RefCell<Vec<Vec<u8>>> = const { RefCell::new(Vec::new()) };
}

/// A byte buffer whose first `filled` bytes hold data. The whole of `data`
/// is initialised (zeroed when created), so reads go straight into it.
pub(crate) struct Buffer {
    data: Vec<u8>,
    filled: usize,
}

impl Buffer {
    /// A buffer from this thread's pool, or a new one.
    pub(crate) fn take() -> Buffer {
        let data = POOL
            .try_with(|p| p.borrow_mut().pop())
            .ok()
            .flatten()
            .unwrap_or_else(|| vec![0; INITIAL]);
        Buffer { data, filled: 0 }
    }

    /// The data.
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.data[..self.filled]
    }

    /// The data, writable (for decoding in place).
    pub(crate) fn bytes_mut(&mut self) -> &mut [u8] {
        &mut self.data[..self.filled]
    }

    pub(crate) fn len(&self) -> usize {
        self.filled
    }

    /// Forget all data.
    pub(crate) fn clear(&mut self) {
        self.filled = 0;
    }

    /// Keep only the first `n` bytes of data.
    pub(crate) fn truncate(&mut self, n: usize) {
        self.filled = self.filled.min(n);
    }

    /// Drop the first `n` bytes of data, moving the rest to the front.
    pub(crate) fn consume(&mut self, n: usize) {
        let n = n.min(self.filled);
        self.data.copy_within(n..self.filled, 0);
        self.filled -= n;
    }

    /// Move `data[from..]` to `data[to..]` (`to <= from`), dropping the
    /// bytes in between.
    pub(crate) fn close_gap(&mut self, to: usize, from: usize) {
        debug_assert!(to <= from && from <= self.filled);
        self.data.copy_within(from..self.filled, to);
        self.filled -= from - to;
    }

    /// Room to read into, so that data never exceeds `limit` bytes: the
    /// unused part of the buffer, grown (doubling, at most to `limit`) when
    /// it is (nearly) full. Empty only when the data already holds `limit` bytes.
    pub(crate) fn spare(&mut self, limit: usize) -> &mut [u8] {
        if self.data.len() - self.filled < MIN_ROOM && self.data.len() < limit {
            let grown = (self.data.len() * 2).clamp(INITIAL, limit);
            self.data.resize(grown, 0);
        }
        let end = self.data.len().min(limit).max(self.filled);
        &mut self.data[self.filled..end]
    }

    /// Record `n` more bytes of data, just read into [`Buffer::spare`].
    pub(crate) fn filled(&mut self, n: usize) {
        self.filled = (self.filled + n).min(self.data.len());
    }

    /// Replace the data with what `render` writes. Written into the buffer
    /// in place; only what does not fit (an unusually long request) costs
    /// an allocation.
    pub(crate) fn render(&mut self, render: impl Fn(&mut dyn Write) -> io::Result<()>) {
        let mut room: &mut [u8] = &mut self.data[..];
        let total = room.len();
        if render(&mut room).is_ok() {
            self.filled = total - room.len();
            return;
        }
        let mut v = Vec::with_capacity(2 * total);
        // Writing to a Vec cannot fail.
        let _ = render(&mut v);
        self.filled = v.len();
        if v.len() < INITIAL {
            v.resize(INITIAL, 0);
        }
        self.data = v;
    }
}

impl Drop for Buffer {
    fn drop(&mut self) {
        if self.data.len() != INITIAL {
            return; // grown: freed, the pool keeps small buffers only
        }
        let data = std::mem::take(&mut self.data);
        // During thread teardown the pool may be gone: the buffer is freed.
        let _ = POOL.try_with(|p| {
            let mut p = p.borrow_mut();
            if p.len() < KEEP {
                if p.capacity() == 0 {
                    p.reserve_exact(KEEP);
                }
                p.push(data);
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_are_reused_on_the_same_thread() {
        let a = Buffer::take();
        let ptr = a.data.as_ptr();
        drop(a);
        let b = Buffer::take();
        assert_eq!(b.data.as_ptr(), ptr, "the pooled buffer was not reused");
        assert_eq!(b.len(), 0);
    }

    #[test]
    fn grown_buffers_are_not_pooled() {
        let mut a = Buffer::take();
        let n = a.spare(usize::MAX).len();
        a.filled(n);
        assert!(a.spare(3 * INITIAL).len() >= INITIAL);
        assert_eq!(a.data.len(), 2 * INITIAL);
        drop(a);
        let b = Buffer::take();
        assert_eq!(b.data.len(), INITIAL);
    }

    #[test]
    fn spare_respects_the_limit() {
        let mut b = Buffer::take();
        assert_eq!(b.spare(10).len(), 10);
        b.filled(10);
        assert!(b.spare(10).is_empty());
        // Growth stops at the limit.
        let room = b.spare(INITIAL).len();
        b.filled(room);
        assert_eq!(b.len(), INITIAL);
        assert_eq!(b.spare(INITIAL + 5).len(), 5);
    }

    #[test]
    fn consume_and_close_gap_move_the_rest_forward() {
        let mut b = Buffer::take();
        b.render(|w| w.write_all(b"headbody"));
        b.consume(4);
        assert_eq!(b.bytes(), b"body");
        b.close_gap(1, 3);
        assert_eq!(b.bytes(), b"by");
        b.truncate(1);
        assert_eq!(b.bytes(), b"b");
    }

    #[test]
    fn long_renders_grow_the_buffer() {
        let mut b = Buffer::take();
        let long = vec![b'x'; 3 * INITIAL];
        b.render(|w| w.write_all(&long));
        assert_eq!(b.bytes(), &long[..]);
    }
}
