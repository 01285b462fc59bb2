//! `autoreload`: when a changed config file is read. A file being written is
//! not read: a change is applied once the file has stayed the same (device,
//! inode, size, modification time) for one look, a second apart, or at once
//! when it was put in place by a rename (a new inode whose change time is
//! later than its modification time: written elsewhere, then moved). A
//! half-written file whose first part happens to be valid is never applied.
//!
//! The decision ([`Watch::look`]) is pure; [`stamp`] reads the file's
//! metadata.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// What identifies one version of the config file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Stamp {
    dev: u64,
    ino: u64,
    len: u64,
    /// Modification time, in nanoseconds since the epoch.
    mtime: i128,
    /// Status change time (a rename sets it, not the modification time).
    ctime: i128,
}

/// The file's [`Stamp`] now; `None` when it cannot be read.
pub(super) fn stamp(path: &Path) -> Option<Stamp> {
    let m = std::fs::metadata(path).ok()?;
    let ns = |s: i64, n: i64| i128::from(s) * 1_000_000_000 + i128::from(n);
    Some(Stamp {
        dev: m.dev(),
        ino: m.ino(),
        len: m.len(),
        mtime: ns(m.mtime(), m.mtime_nsec()),
        ctime: ns(m.ctime(), m.ctime_nsec()),
    })
}

impl Stamp {
    /// Whether `self` is the same version of the file as `other` (a change of
    /// status alone, chmod or chown, is not a new version).
    fn same_content(&self, other: &Stamp) -> bool {
        (self.dev, self.ino, self.len, self.mtime) == (other.dev, other.ino, other.len, other.mtime)
    }
}

/// The versions of the config file seen so far.
#[derive(Debug, Clone, Default)]
pub(super) struct Watch {
    /// The version last read (`None`: the file could not be stat'ed then).
    read: Option<Stamp>,
    /// A different version seen at the last look, not read yet.
    seen: Option<Option<Stamp>>,
}

fn same(a: &Option<Stamp>, b: &Option<Stamp>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => a.same_content(b),
        (None, None) => true,
        _ => false,
    }
}

impl Watch {
    /// A watch on a file whose version `read` was just read.
    pub(super) fn new(read: Option<Stamp>) -> Watch {
        Watch { read, seen: None }
    }

    /// The file was read at version `stamp` (a reload, whatever asked it).
    pub(super) fn was_read(&mut self, stamp: Option<Stamp>) {
        self.read = stamp;
        self.seen = None;
    }

    /// One look (once a second), at the file's version `now`: whether to
    /// read it now.
    pub(super) fn look(&mut self, now: Option<Stamp>) -> bool {
        if same(&now, &self.read) {
            self.seen = None;
            return false;
        }
        let renamed_in = match (&now, &self.read) {
            (Some(n), Some(r)) => (n.dev, n.ino) != (r.dev, r.ino) && n.ctime > n.mtime,
            (Some(n), None) => n.ctime > n.mtime,
            _ => false,
        };
        let stable = self.seen.as_ref().is_some_and(|s| same(s, &now));
        if renamed_in || stable {
            return true;
        }
        self.seen = Some(now);
        false
    }
}

impl super::Director {
    /// One look at the config file (autoreload, once a second): whether it
    /// changed and has settled, so it is read now.
    pub(super) fn config_settled(&mut self) -> bool {
        let now = stamp(&self.path);
        self.watch.look(now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn st(ino: u64, len: u64, mtime: i128, ctime: i128) -> Option<Stamp> {
        Some(Stamp {
            dev: 1,
            ino,
            len,
            mtime,
            ctime,
        })
    }

    #[test]
    fn a_file_being_written_is_read_once_it_stays_the_same_for_a_look() {
        let mut w = Watch::new(st(7, 100, 10, 10));
        assert!(!w.look(st(7, 100, 10, 10)), "unchanged");
        // Written in place over three looks: size and time move each time.
        assert!(!w.look(st(7, 40, 20, 20)));
        assert!(!w.look(st(7, 80, 30, 30)));
        assert!(!w.look(st(7, 120, 40, 40)));
        // The same at the next look: read it.
        assert!(w.look(st(7, 120, 40, 40)));
        w.was_read(st(7, 120, 40, 40));
        assert!(!w.look(st(7, 120, 40, 40)));
    }

    #[test]
    fn a_file_renamed_into_place_is_read_at_once() {
        let mut w = Watch::new(st(7, 100, 10, 10));
        // Written as another inode, then renamed: ctime (the rename) later
        // than mtime (the last write).
        assert!(w.look(st(8, 120, 40, 45)));
        // A new inode written in place (rm, then write): ctime == mtime,
        // waited for like any write.
        let mut w = Watch::new(st(7, 100, 10, 10));
        assert!(!w.look(st(9, 60, 50, 50)));
        assert!(w.look(st(9, 60, 50, 50)));
    }

    #[test]
    fn a_chmod_is_not_a_change_and_a_vanished_file_is_seen_twice() {
        let mut w = Watch::new(st(7, 100, 10, 10));
        assert!(!w.look(st(7, 100, 10, 99)), "status change only");
        assert!(!w.look(None));
        assert!(w.look(None), "gone for a whole look: read (and fail)");
        w.was_read(None);
        assert!(!w.look(None));
    }
}
