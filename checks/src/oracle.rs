//! `service=oracle`: not a probe, a clear refusal for the configuration.
//!
//! ldirectord's Oracle check logs in through Perl's DBI with DBD::Oracle
//! (`dbi:Oracle:sid=<database>`, Oracle's own client library) and runs
//! `request`. Debian ships neither DBD::Oracle nor Oracle's client, so
//! Debian's ldirectord 4.12 cannot run this check at all: `DBI->connect`
//! dies with `install_driver(Oracle) failed: Can't locate DBD/Oracle.pm`,
//! and no real is ever up.
//!
//! A lighter TNS-level probe (a CONNECT packet to the listener, up on
//! ACCEPT) was considered and left out: Oracle's network protocol is not
//! published, no Oracle server can be installed from Debian's packages to
//! test a probe against, and a probe that has never met a real listener
//! could refuse healthy servers (every real down at once) or pass broken
//! ones. So a configuration with `service=oracle` is refused when it is
//! loaded, with [`ORACLE_NOT_SUPPORTED`] as the reason, rather than
//! accepted with a check that cannot be trusted.

/// The configuration error for `service=oracle` (the caller prefixes
/// `file:line: `).
pub const ORACLE_NOT_SUPPORTED: &str = "service=oracle is not supported: an Oracle login \
     needs Oracle's own client, which no Debian package provides (Debian's ldirectord cannot \
     run this check either); use checktype=connect for a TCP connect to the listener \
     (port 1521), or checktype=external with a script that runs Oracle's tnsping or sqlplus";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_refusal_says_what_to_do_instead() {
        assert!(ORACLE_NOT_SUPPORTED.starts_with("service=oracle is not supported"));
        assert!(ORACLE_NOT_SUPPORTED.contains("checktype=connect"));
        assert!(ORACLE_NOT_SUPPORTED.contains("checktype=external"));
    }
}
