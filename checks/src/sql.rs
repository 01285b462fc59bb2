//! What the SQL probes (`mysql.rs`, `pgsql.rs`) share: the probe's
//! description ([`SqlProbe`]) and the verdict on a query's result.
//!
//! ldirectord (`check_sql`, through Perl's DBI) logs in, runs `request`
//! and is up when the statement returns one or more rows (for a statement
//! that returns no rows, when it affected one or more); it ignores
//! `receive`. Here, in addition, a `receive` given is matched against the
//! first row (see [`SqlProbe::receive`]).

use crate::{down, quote_regex, quote_text, up, Pattern, Verdict};

/// `service=mysql` and `service=pgsql`.
#[derive(Debug, Clone)]
pub struct SqlProbe {
    /// `login`. ldirectord refuses to check without one (the check is down,
    /// `Must specify a login and request string`); so does this probe.
    pub user: String,
    /// `passwd`; may be empty.
    pub password: String,
    /// `database`; `None` when not set: MySQL then selects no database,
    /// PostgreSQL uses the database named like the user (libpq's default).
    pub database: Option<String>,
    /// The SQL: `request` without one leading `/` (ldirectord adds a `/` to
    /// every request and strips it again for SQL). Empty: down, as in
    /// ldirectord.
    pub query: String,
    /// Matched against the first row: its values as text, separated by a
    /// tab, NULL as the four letters `NULL` (as `mysql --batch` prints
    /// them). `None`: any row is up.
    pub receive: Option<Pattern>,
}

impl SqlProbe {
    /// The probe from ldirectord's settings as written: `login`, `passwd`,
    /// `database` (empty = not set), `request` (one leading `/` removed)
    /// and `receive` (compiled by the caller; `None` when empty).
    pub fn from_ldirectord(
        login: &str,
        passwd: &str,
        database: &str,
        request: &str,
        receive: Option<Pattern>,
    ) -> Self {
        SqlProbe {
            user: login.to_string(),
            password: passwd.to_string(),
            database: (!database.is_empty()).then(|| database.to_string()),
            query: request.strip_prefix('/').unwrap_or(request).to_string(),
            receive,
        }
    }

    /// The reason when the probe cannot be run at all, as ldirectord's.
    pub(crate) fn missing(&self) -> Option<Verdict> {
        (self.user.is_empty() || self.query.trim().is_empty())
            .then(|| down("a login and a request (the SQL query) are required"))
    }
}

/// One check of either dialect: down at once when the probe
/// [lacks](SqlProbe::missing) a login or a query, else
/// [`prefer_tls`] with the dialect's `attempt`.
pub(crate) async fn check<F, Fut>(p: &SqlProbe, attempt: F) -> Verdict
where
    F: Fn(bool) -> Fut,
    Fut: std::future::Future<Output = Result<Verdict, String>>,
{
    if let Some(v) = p.missing() {
        return v;
    }
    prefer_tls(attempt).await
}

/// TLS when it works, as libpq's `sslmode=prefer` and MySQL's
/// `--ssl-mode=PREFERRED`: `attempt(true)` asks for TLS and returns
/// `Err(reason)` only when the TLS handshake failed; then one more
/// connection is made without TLS (`attempt(false)`), and its verdict,
/// when down, also names the TLS failure.
async fn prefer_tls<F, Fut>(attempt: F) -> Verdict
where
    F: Fn(bool) -> Fut,
    Fut: std::future::Future<Output = Result<Verdict, String>>,
{
    match attempt(true).await {
        Ok(v) => v,
        Err(tls_reason) => match attempt(false).await {
            Ok((true, reason)) => up(reason),
            Ok((false, reason)) | Err(reason) => {
                down(format!("{reason} (without TLS, after {tls_reason})"))
            }
        },
    }
}

/// What a query returned, as far as the verdict needs it.
pub(crate) enum QueryResult {
    /// The first row: one value per column, `None` for NULL.
    Row(Vec<Option<Vec<u8>>>),
    /// No result set (or an empty one); the rows the statement affected.
    NoRows { affected: u64 },
}

/// The verdict on a query's result.
pub(crate) fn verdict(p: &SqlProbe, result: QueryResult) -> Verdict {
    match result {
        QueryResult::NoRows { affected } if affected > 0 && p.receive.is_none() => {
            up(format!("query affected {affected} rows"))
        }
        QueryResult::NoRows { .. } => down("query returned no rows"),
        QueryResult::Row(values) => {
            let Some(re) = &p.receive else {
                return up("query returned a row");
            };
            let row = row_text(&values);
            if re.is_match(&row) {
                up(format!("first row matched {}", quote_regex(re)))
            } else {
                down(format!(
                    "first row {} did not match {}",
                    quote_text(&String::from_utf8_lossy(&row)),
                    quote_regex(re)
                ))
            }
        }
    }
}

/// The first row as text for `receive`: values separated by tabs, NULL
/// as `NULL`.
pub(crate) fn row_text(values: &[Option<Vec<u8>>]) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, v) in values.iter().enumerate() {
        if i > 0 {
            out.push(b'\t');
        }
        match v {
            Some(bytes) => out.extend_from_slice(bytes),
            None => out.extend_from_slice(b"NULL"),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn probe(receive: Option<&str>) -> SqlProbe {
        SqlProbe::from_ldirectord(
            "u",
            "",
            "",
            "/SELECT 1",
            receive.map(|r| regex::bytes::Regex::new(r).unwrap().into()),
        )
    }

    #[test]
    fn ldirectord_settings() {
        let p = probe(None);
        assert_eq!(p.query, "SELECT 1");
        assert_eq!(p.database, None);
        let p = SqlProbe::from_ldirectord("u", "p", "db", "SELECT 2", None);
        assert_eq!(
            (p.query.as_str(), p.database.as_deref()),
            ("SELECT 2", Some("db"))
        );
        assert!(p.missing().is_none());
        let p = SqlProbe::from_ldirectord("", "p", "db", "SELECT 2", None);
        assert_eq!(
            p.missing().unwrap().1,
            "a login and a request (the SQL query) are required"
        );
        let p = SqlProbe::from_ldirectord("u", "p", "db", "/", None);
        assert!(p.missing().is_some());
    }

    #[test]
    fn verdicts() {
        let row = || QueryResult::Row(vec![Some(b"web1".to_vec()), None]);
        assert_eq!(verdict(&probe(None), row()), up("query returned a row"));
        assert_eq!(
            verdict(&probe(Some(r"^web1\tNULL$")), row()),
            up(r#"first row matched "^web1\tNULL$""#)
        );
        assert_eq!(
            verdict(&probe(Some("web2")), row()),
            down(r#"first row "web1\tNULL" did not match "web2""#)
        );
        assert_eq!(
            verdict(&probe(None), QueryResult::NoRows { affected: 0 }),
            down("query returned no rows")
        );
        assert_eq!(
            verdict(&probe(None), QueryResult::NoRows { affected: 2 }),
            up("query affected 2 rows")
        );
        assert_eq!(
            verdict(&probe(Some("x")), QueryResult::NoRows { affected: 2 }),
            down("query returned no rows")
        );
    }
}
