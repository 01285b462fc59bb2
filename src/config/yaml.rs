//! The YAML format (see `ldirectord.example.yaml`) and `convert`.
//!
//! Keys are the ldirectord directive names. Values go through exactly the
//! same value grammar and directive handling as `.cf` ([`super::cf`]); only
//! the shape differs:
//!
//! ```yaml
//! checkinterval: 5s            # durations: 5s, 500ms, or a number of seconds
//! checktimeout: 3s
//! quiescent: false             # booleans: true/false (yes/no also read)
//! fallback: 127.0.0.1:80 gate  # or {address: 127.0.0.1:80, forward: gate}
//! virtuals:
//!   - virtual: 10.0.0.100:80   # or virtual6: "[2001:db8::1]:80", fwmark: 10, fwmark6: 10
//!     scheduler: rr
//!     service: http
//!     request: /index.html
//!     reals:
//!       - 10.0.0.2:80 gate 2   # the .cf real= syntax
//!       - {address: 10.0.0.3:80, forward: gate, weight: 1, lower: 0, upper: 0,
//!          request: /health, receive: ok}
//! ```
//!
//! Structure errors (unknown keys, a list where a value belongs, bad YAML)
//! stop the parse with yaml_serde's line. Value errors are all collected;
//! their line is found by walking the text along the value's path
//! (`virtuals[2].reals[1]`), see [`LineIndex`].

use super::directives::{Applied, RawGlobal, RawVirtual, Scope};
use super::resolve;
use super::value;
use super::Problems;
use super::*;
use crate::ipvs::ServiceKey;
use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::time::Duration;

// ---------------------------------------------------------------------------
// Serde types
// ---------------------------------------------------------------------------

/// A YAML scalar of any type, kept as written; the shared value grammar
/// parses its text.
#[derive(Debug, Clone, PartialEq)]
pub enum Scalar {
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
}

impl Scalar {
    /// The text the value grammar parses.
    pub fn text(&self) -> String {
        match self {
            Scalar::Str(s) => s.clone(),
            Scalar::Int(n) => n.to_string(),
            Scalar::Float(f) => f.to_string(),
            Scalar::Bool(b) => b.to_string(),
        }
    }
    fn str(s: impl Into<String>) -> Option<Scalar> {
        Some(Scalar::Str(s.into()))
    }
    fn int(n: impl Into<i64>) -> Option<Scalar> {
        Some(Scalar::Int(n.into()))
    }
}

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Scalar;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string, number or boolean")
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Scalar, E> {
                Ok(Scalar::Bool(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Scalar, E> {
                Ok(Scalar::Int(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Scalar, E> {
                Ok(i64::try_from(v)
                    .map(Scalar::Int)
                    .unwrap_or_else(|_| Scalar::Str(v.to_string())))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Scalar, E> {
                Ok(Scalar::Float(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Scalar, E> {
                Ok(Scalar::Str(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

impl Serialize for Scalar {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Scalar::Str(v) => s.serialize_str(v),
            Scalar::Int(v) => s.serialize_i64(*v),
            Scalar::Float(v) => s.serialize_f64(*v),
            Scalar::Bool(v) => s.serialize_bool(*v),
        }
    }
}

/// A string in the `.cf` syntax, or the same thing as a map.
#[derive(Debug, Clone, PartialEq)]
pub enum StrOrMap<M> {
    Str(String),
    Map(M),
}

impl<'de, M: Deserialize<'de>> Deserialize<'de> for StrOrMap<M> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<M>(std::marker::PhantomData<M>);
        impl<'de, M: Deserialize<'de>> Visitor<'de> for V<M> {
            type Value = StrOrMap<M>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string or a map")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(StrOrMap::Str(v.to_string()))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                M::deserialize(de::value::MapAccessDeserializer::new(map)).map(StrOrMap::Map)
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

impl<M: Serialize> Serialize for StrOrMap<M> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            StrOrMap::Str(v) => s.serialize_str(v),
            StrOrMap::Map(m) => m.serialize(s),
        }
    }
}

/// A struct of optional scalars (each named after its directive), plus
/// extra fields; `scalars()` lists the scalars that are set, by name.
macro_rules! scalar_struct {
    ($(#[$meta:meta])* pub struct $name:ident { $($field:ident),* $(,)? }
     extra { $($(#[$fmeta:meta])* $extra:ident : $ty:ty),* $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
        #[serde(deny_unknown_fields)]
        pub struct $name {
            $(
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub $field: Option<Scalar>,
            )*
            $( $(#[$fmeta])* pub $extra: $ty, )*
        }
        impl $name {
            /// The scalars that are set, with their key.
            pub fn scalars(&self) -> Vec<(&'static str, &Scalar)> {
                let mut v = Vec::new();
                $(
                    if let Some(s) = &self.$field {
                        let name = stringify!($field);
                        v.push((name.strip_prefix("r#").unwrap_or(name), s));
                    }
                )*
                v
            }
        }
    };
}

scalar_struct! {
    /// The whole file.
    pub struct YamlConfig {
        checkinterval, checktimeout, negotiatetimeout, failurecount, risecount,
        quiescent, cleanstop, autoreload, readdquiescent, logfile, maintenancedir,
        resyncinterval, maxchecks, statusaddress, syncdaemon, fork, supervised,
        callback, fallbackcommand,
        emailalert, emailalertfreq, emailalertstatus, emailalertfrom, smtp,
        // Recognised, not supported (each is an error saying so).
        execute, checkcount,
    }
    extra {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        fallback: Option<StrOrMap<YamlFallback>>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        fallback6: Option<StrOrMap<YamlFallback>>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        virtuals: Vec<YamlVirtual>,
    }
}

scalar_struct! {
    /// One virtual service.
    pub struct YamlVirtual {
        r#virtual, virtual6, fwmark, fwmark6,
        servicename, comment,
        protocol, scheduler, persistent, netmask, schedflags, ops,
        checktype, service, checkport, request, receive, httpmethod, virtualhost, checkcommand,
        checkinterval, checktimeout, negotiatetimeout, failurecount, risecount, quiescent, cleanstop,
        fallbackcommand, monitorfile,
        emailalert, emailalertfreq, emailalertstatus, emailalertfrom, smtp,
        // Recognised, not supported.
        checkcount,
        login, passwd, database, secret,
    }
    extra {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        fallback: Option<StrOrMap<YamlFallback>>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        fallback6: Option<StrOrMap<YamlFallback>>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        reals: Vec<StrOrMap<YamlReal>>,
    }
}

/// `{address: ip[:port], forward: gate}`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct YamlFallback {
    pub address: Scalar,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forward: Option<Scalar>,
}

impl Default for Scalar {
    fn default() -> Self {
        Scalar::Str(String::new())
    }
}

/// `{address: ip[->ip2][:port], forward: gate, weight: 1, request: ..,
/// receive: .., lower: 0, upper: 0}`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct YamlReal {
    pub address: Scalar,
    pub forward: Scalar,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<Scalar>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<Scalar>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receive: Option<Scalar>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lower: Option<Scalar>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upper: Option<Scalar>,
}

// ---------------------------------------------------------------------------
// Lines
// ---------------------------------------------------------------------------

/// One step of a path into the document.
#[derive(Debug, Clone, Copy)]
pub enum Seg<'a> {
    Key(&'a str),
    Index(usize),
}

/// Finds the line of a value by its path, reading block-style YAML by
/// indentation (what this format's files and `convert` use). For a path it
/// cannot follow (flow style), it answers the deepest line it found.
pub struct LineIndex {
    entries: Vec<Entry>,
}

#[derive(Debug)]
struct Entry {
    line: usize,
    col: usize,
    dash: bool,
    text: String,
}

impl LineIndex {
    pub fn new(text: &str) -> LineIndex {
        let mut entries = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            let trimmed = raw.trim_start();
            if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with("---") {
                continue;
            }
            let mut col = raw.len() - trimmed.len();
            let mut rest = trimmed;
            while rest == "-" || rest.starts_with("- ") {
                entries.push(Entry {
                    line: i + 1,
                    col,
                    dash: true,
                    text: String::new(),
                });
                let after = rest[1..].trim_start();
                col += rest.len() - after.len();
                rest = after;
            }
            if !rest.is_empty() && !rest.starts_with('#') {
                entries.push(Entry {
                    line: i + 1,
                    col,
                    dash: false,
                    text: rest.to_string(),
                });
            }
        }
        LineIndex { entries }
    }

    fn key_matches(text: &str, key: &str) -> bool {
        let rest = if let Some(r) = text
            .strip_prefix('"')
            .and_then(|t| t.strip_prefix(key))
            .and_then(|t| t.strip_prefix('"'))
        {
            r
        } else if let Some(r) = text
            .strip_prefix('\'')
            .and_then(|t| t.strip_prefix(key))
            .and_then(|t| t.strip_prefix('\''))
        {
            r
        } else if let Some(r) = text.strip_prefix(key) {
            r
        } else {
            return false;
        };
        let rest = rest.trim_start();
        rest == ":" || rest.starts_with(": ") || rest.starts_with(":\t")
    }

    /// The line of the value at `path` (1-based), or the deepest line found
    /// on the way (0 when none).
    pub fn locate(&self, path: &[Seg]) -> usize {
        let e = &self.entries;
        let (mut lo, mut hi) = (0, e.len());
        let mut found = 0;
        for seg in path {
            let Some(child_col) = e[lo..hi].iter().map(|x| x.col).min() else {
                return found;
            };
            let idx = match seg {
                Seg::Key(k) => (lo..hi).find(|&i| {
                    e[i].col == child_col && !e[i].dash && Self::key_matches(&e[i].text, k)
                }),
                Seg::Index(n) => (lo..hi)
                    .filter(|&i| e[i].col == child_col && e[i].dash)
                    .nth(*n),
            };
            let Some(idx) = idx else { return found };
            found = e[idx].line;
            let c = e[idx].col;
            let is_key = !e[idx].dash;
            let mut j = idx + 1;
            while j < hi && (e[j].col > c || (is_key && e[j].dash && e[j].col == c)) {
                j += 1;
            }
            lo = idx + 1;
            hi = j;
        }
        found
    }
}

// ---------------------------------------------------------------------------
// Parse
// ---------------------------------------------------------------------------

fn yaml_error(path: &Path, e: &yaml_serde::Error) -> ConfigErrors {
    let line = e.location().map(|l| l.line()).unwrap_or(0);
    let mut message = e.to_string();
    if let Some(i) = message.rfind(" at line ") {
        if message[i..].contains(" column ") {
            message.truncate(i);
        }
    }
    ConfigErrors(vec![ConfigError {
        file: path.to_path_buf(),
        line,
        message,
    }])
}

/// A fallback map in the `.cf` syntax (`address forward`).
fn fallback_spec(f: &StrOrMap<YamlFallback>) -> String {
    match f {
        StrOrMap::Str(s) => s.clone(),
        StrOrMap::Map(m) => match &m.forward {
            Some(fw) => format!("{} {}", m.address.text(), fw.text()),
            None => m.address.text(),
        },
    }
}

/// A real map to a [`value::RealSpec`] with the shared value parsers.
fn real_from_map(m: &YamlReal, v6: bool) -> Result<value::RealSpec, String> {
    let (first, last, port) = value::parse_real_target(&m.address.text(), v6)?;
    let count = |s: &Option<Scalar>, what: &str| -> Result<u32, String> {
        s.as_ref().map_or(Ok(0), |s| {
            value::parse_count(&s.text(), 0)
                .map_err(|e| format!("invalid {what} \"{}\": {e}", s.text()))
        })
    };
    Ok(value::RealSpec {
        first,
        last,
        port,
        forward: value::parse_forward(&m.forward.text())?,
        weight: m
            .weight
            .as_ref()
            .map_or(Ok(1), |w| value::parse_weight(&w.text()))?,
        request: m.request.as_ref().map(Scalar::text),
        receive: m.receive.as_ref().map(Scalar::text),
        lower: count(&m.lower, "lower")?,
        upper: count(&m.upper, "upper")?,
    })
}

const ADDRESS_KEYS: [&str; 4] = ["virtual", "virtual6", "fwmark", "fwmark6"];

fn read_virtual(i: usize, y: &YamlVirtual, ix: &LineIndex, errs: &mut Problems) -> RawVirtual {
    let at = |k: &str| ix.locate(&[Seg::Key("virtuals"), Seg::Index(i), Seg::Key(k)]);
    let item_line = ix.locate(&[Seg::Key("virtuals"), Seg::Index(i)]);
    let addrs: Vec<(&str, &Scalar)> = y
        .scalars()
        .into_iter()
        .filter(|(k, _)| ADDRESS_KEYS.contains(k))
        .collect();
    let mut v = match addrs.as_slice() {
        [(k, s)] => {
            let line = at(k);
            let v6 = k.ends_with('6');
            let text = s.text();
            if k.starts_with("fwmark") && !text.trim().chars().all(|c| c.is_ascii_digit()) {
                errs.push((
                    line,
                    format!("invalid {k} \"{text}\": a firewall mark is a number"),
                ));
                RawVirtual::empty(line, v6)
            } else {
                RawVirtual::start(&text, v6, line, errs)
            }
        }
        [] => {
            errs.push((
                item_line,
                "a virtual needs one of virtual:, virtual6:, fwmark: or fwmark6:".into(),
            ));
            RawVirtual::empty(item_line, false)
        }
        [(k, _), ..] => {
            errs.push((
                at(k),
                "a virtual takes only one of virtual:, virtual6:, fwmark: or fwmark6:".into(),
            ));
            RawVirtual::empty(at(k), false)
        }
    };
    for (k, s) in y.scalars() {
        if ADDRESS_KEYS.contains(&k) {
            continue;
        }
        let line = at(k);
        if v.apply(k, &s.text(), line, errs) == Applied::Unknown {
            errs.push((line, format!("unknown key \"{k}\" in a virtual")));
        }
    }
    for (key, f) in [("fallback", &y.fallback), ("fallback6", &y.fallback6)] {
        if let Some(f) = f {
            v.apply(key, &fallback_spec(f), at(key), errs);
        }
    }
    for (j, r) in y.reals.iter().enumerate() {
        let line = ix.locate(&[
            Seg::Key("virtuals"),
            Seg::Index(i),
            Seg::Key("reals"),
            Seg::Index(j),
        ]);
        match r {
            StrOrMap::Str(s) => {
                v.apply(if v.v6 { "real6" } else { "real" }, s, line, errs);
            }
            StrOrMap::Map(m) => match real_from_map(m, v.v6) {
                Ok(spec) => v.push_real(spec, line, errs),
                Err(e) => errs.push((
                    line,
                    format!("invalid real server \"{}\": {e}", m.address.text()),
                )),
            },
        }
    }
    v
}

/// Parse a YAML config.
pub fn parse(path: &Path, text: &str) -> Result<Config, ConfigErrors> {
    let empty = text.lines().all(|l| {
        let t = l.trim();
        t.is_empty() || t.starts_with('#') || t == "---"
    });
    let y: YamlConfig = if empty {
        YamlConfig::default()
    } else {
        yaml_serde::from_str(text).map_err(|e| yaml_error(path, &e))?
    };
    let ix = LineIndex::new(text);
    let mut errs: Problems = Vec::new();
    let mut g = RawGlobal::default();
    for (k, s) in y.scalars() {
        let line = ix.locate(&[Seg::Key(k)]);
        if g.apply(k, &s.text(), line, &mut errs) == Applied::Unknown {
            errs.push((line, format!("unknown key \"{k}\"")));
        }
    }
    for (key, f) in [("fallback", &y.fallback), ("fallback6", &y.fallback6)] {
        if let Some(f) = f {
            g.apply(
                key,
                &fallback_spec(f),
                ix.locate(&[Seg::Key(key)]),
                &mut errs,
            );
        }
    }
    let virtuals: Vec<RawVirtual> = y
        .virtuals
        .iter()
        .enumerate()
        .map(|(i, v)| read_virtual(i, v, &ix, &mut errs))
        .collect();
    resolve::resolve(path, &g, &virtuals, errs)
}

// ---------------------------------------------------------------------------
// Write
// ---------------------------------------------------------------------------

fn dur(d: Duration) -> Option<Scalar> {
    Scalar::str(humantime::format_duration(d).to_string())
}

fn boolean(b: bool) -> Option<Scalar> {
    Some(Scalar::Bool(b))
}

/// The email alert settings of `e` that differ from `base`, as scalars in
/// the order emailalert, emailalertfreq, emailalertstatus, emailalertfrom,
/// smtp.
fn email_scalars(e: &EmailAlert, base: &EmailAlert) -> [Option<Scalar>; 5] {
    let freq = |d: Duration| {
        if d.subsec_nanos() == 0 {
            Scalar::int(i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        } else {
            dur(d)
        }
    };
    [
        (e.emailalert != base.emailalert && !e.emailalert.is_empty())
            .then(|| Scalar::Str(e.emailalert.join(", "))),
        (e.emailalertfreq != base.emailalertfreq)
            .then(|| freq(e.emailalertfreq))
            .flatten(),
        (e.emailalertstatus != base.emailalertstatus)
            .then(|| Scalar::Str(e.emailalertstatus.to_string())),
        e.emailalertfrom
            .clone()
            .filter(|_| e.emailalertfrom != base.emailalertfrom)
            .map(Scalar::Str),
        e.smtp
            .filter(|_| e.smtp != base.smtp)
            .map(|a| Scalar::Str(a.to_string())),
    ]
}

/// `ip[:port] forward`, the port left out when 0 (= the virtual's).
fn fallback_text(f: &Fallback) -> String {
    format!("{} {}", addr_text(f.addr), value::forward_name(f.forward))
}

/// `ip:port`, `[v6]:port`; `ip` / `[v6]` when the port is 0.
fn addr_text(a: SocketAddr) -> String {
    match (a.port(), a.ip()) {
        (0, IpAddr::V4(ip)) => ip.to_string(),
        (0, IpAddr::V6(ip)) => format!("[{ip}]"),
        _ => a.to_string(),
    }
}

fn schedflags_text(bits: u32) -> String {
    use crate::ipvs::flags;
    [
        (flags::SCHED1, "flag-1"),
        (flags::SCHED2, "flag-2"),
        (flags::SCHED3, "flag-3"),
    ]
    .iter()
    .filter(|(b, _)| bits & b != 0)
    .map(|(_, n)| *n)
    .collect::<Vec<_>>()
    .join(",")
}

/// The service a virtual gets without `service=`, or `None` when leaving it
/// out would be an error (an unsupported port default under negotiate).
fn implicit_service(v: &Virtual) -> Option<CheckService> {
    match v.key {
        ServiceKey::Fwmark { .. } => Some(CheckService::None),
        ServiceKey::Inet { addr, .. } => {
            match value::supported_service(value::default_service_name(addr.port())) {
                Some(s) => Some(s),
                None if v.check.checktype == CheckType::Negotiate => None,
                None => Some(CheckService::None),
            }
        }
    }
}

fn real_entry(r: &Real) -> StrOrMap<YamlReal> {
    if r.request.is_none() && r.receive.is_none() {
        let mut s = format!(
            "{} {} {}",
            addr_text(r.addr),
            value::forward_name(r.forward),
            r.weight
        );
        if r.lower != 0 {
            s.push_str(&format!(" l:{}", r.lower));
        }
        if r.upper != 0 {
            s.push_str(&format!(" u:{}", r.upper));
        }
        return StrOrMap::Str(s);
    }
    StrOrMap::Map(YamlReal {
        address: Scalar::Str(addr_text(r.addr)),
        forward: Scalar::Str(value::forward_name(r.forward).into()),
        weight: Scalar::int(r.weight),
        request: r.request.clone().map(Scalar::Str),
        receive: r.receive.clone().map(Scalar::Str),
        lower: (r.lower != 0).then(|| Scalar::Int(r.lower.into())),
        upper: (r.upper != 0).then(|| Scalar::Int(r.upper.into())),
    })
}

fn virtual_entry(v: &Virtual, g: &VirtualDefaults) -> YamlVirtual {
    let mut y = YamlVirtual::default();
    let port = v.port();
    match v.key {
        ServiceKey::Inet { proto, addr } => {
            if addr.is_ipv6() {
                y.virtual6 = Scalar::str(addr.to_string());
            } else {
                y.r#virtual = Scalar::str(addr.to_string());
            }
            let default = if port == 53 {
                crate::ipvs::Protocol::Udp
            } else {
                crate::ipvs::Protocol::Tcp
            };
            if proto != default {
                y.protocol = Scalar::str(proto.name());
            }
        }
        ServiceKey::Fwmark { mark, v6 } => {
            if v6 {
                y.fwmark6 = Scalar::int(mark);
            } else {
                y.fwmark = Scalar::int(mark);
            }
        }
    }
    y.comment = v.comment.clone().map(Scalar::Str);
    if v.scheduler != resolve::DEFAULT_SCHEDULER {
        y.scheduler = Scalar::str(v.scheduler.clone());
    }
    y.persistent = v.persistent.and_then(Scalar::int);
    y.netmask = v.netmask.and_then(|m| {
        if v.key.is_v6() {
            Scalar::int(m)
        } else {
            Scalar::str(Ipv4Addr::from(m).to_string())
        }
    });
    if v.schedflags != 0 {
        y.schedflags = Scalar::str(schedflags_text(v.schedflags));
    }
    if v.ops {
        y.ops = boolean(true);
    }
    let c = &v.check;
    if c.connectcount > 0 {
        y.checktype = Scalar::str(c.connectcount.to_string());
    } else if c.checktype != CheckType::Negotiate {
        y.checktype = Scalar::str(value::checktype_name(c.checktype));
    }
    if v.fallbackcommand != g.fallbackcommand {
        y.fallbackcommand = v.fallbackcommand.clone().map(Scalar::Str);
    }
    [
        y.emailalert,
        y.emailalertfreq,
        y.emailalertstatus,
        y.emailalertfrom,
        y.smtp,
    ] = email_scalars(&v.email, &g.email);
    y.monitorfile = v
        .monitorfile
        .as_ref()
        .map(|p| Scalar::Str(p.display().to_string()));
    if implicit_service(v) != Some(c.service) {
        y.service = Scalar::str(value::service_name(c.service));
    }
    y.checkport = c.checkport.and_then(Scalar::int);
    if c.request != resolve::normalise_request(c.service, resolve::default_request(c.service)) {
        y.request = Scalar::str(c.request.clone());
    }
    y.receive = c.receive.clone().map(Scalar::Str);
    if c.httpmethod == HttpMethod::Head {
        y.httpmethod = Scalar::str("HEAD");
    }
    y.virtualhost = c.virtualhost.clone().map(Scalar::Str);
    if let Some(cmd) = &c.checkcommand {
        if !(c.checktype == CheckType::External && cmd == "/bin/true") {
            y.checkcommand = Scalar::str(cmd.clone());
        }
    }
    if v.checkinterval != g.checkinterval {
        y.checkinterval = dur(v.checkinterval);
    }
    // The two timeouts default to each other: write both or neither.
    if v.checktimeout != g.checktimeout || v.negotiatetimeout != g.negotiatetimeout {
        y.checktimeout = dur(v.checktimeout);
        y.negotiatetimeout = dur(v.negotiatetimeout);
    }
    if v.failurecount != g.failurecount {
        y.failurecount = Scalar::int(v.failurecount);
    }
    if v.risecount != g.risecount {
        y.risecount = Scalar::int(v.risecount);
    }
    if v.quiescent != g.quiescent {
        y.quiescent = boolean(v.quiescent);
    }
    if v.cleanstop != g.cleanstop {
        y.cleanstop = boolean(v.cleanstop);
    }
    let inherited = (if v.key.is_v6() {
        g.fallback6
    } else {
        g.fallback
    })
    .map(|f| Fallback {
        addr: SocketAddr::new(
            f.addr.ip(),
            if f.addr.port() == 0 {
                port
            } else {
                f.addr.port()
            },
        ),
        forward: f.forward,
    });
    if let Some(f) = v.fallback.filter(|f| Some(*f) != inherited) {
        let text = Some(StrOrMap::Str(format!(
            "{} {}",
            f.addr,
            value::forward_name(f.forward)
        )));
        if v.key.is_v6() {
            y.fallback6 = text;
        } else {
            y.fallback = text;
        }
    }
    y.reals = v.reals.iter().map(real_entry).collect();
    y
}

/// Render a model as YAML (`ldirectord-rs convert`): globals first (the main
/// timing and behaviour settings always, the others when set), then each
/// virtual with only what differs from the globals and defaults, reals in the
/// compact `.cf` form (a map when they carry a request/receive).
/// `yaml::parse(to_yaml(c)) == c`.
pub fn to_yaml(config: &Config) -> String {
    let g = &config.global;
    let d = &g.defaults;
    let [emailalert, emailalertfreq, emailalertstatus, emailalertfrom, smtp] =
        email_scalars(&d.email, &EmailAlert::default());
    let y = YamlConfig {
        checkinterval: dur(d.checkinterval),
        checktimeout: dur(d.checktimeout),
        negotiatetimeout: dur(d.negotiatetimeout),
        failurecount: Scalar::int(d.failurecount),
        risecount: Scalar::int(d.risecount),
        quiescent: boolean(d.quiescent),
        cleanstop: boolean(d.cleanstop),
        autoreload: boolean(g.autoreload),
        readdquiescent: g.readdquiescent.then_some(Scalar::Bool(true)),
        logfile: g.logfile.as_ref().and_then(|l| match l {
            LogTarget::File(p) => Scalar::str(p.display().to_string()),
            LogTarget::Syslog(f) => Scalar::str(f.clone()),
        }),
        maintenancedir: g
            .maintenancedir
            .as_ref()
            .and_then(|p| Scalar::str(p.display().to_string())),
        resyncinterval: if g.resyncinterval != Duration::from_secs(10) {
            dur(g.resyncinterval)
        } else {
            None
        },
        maxchecks: (g.maxchecks != 4096).then_some(Scalar::Int(g.maxchecks as i64)),
        statusaddress: g.statusaddress.and_then(|a| Scalar::str(a.to_string())),
        callback: g.callback.clone().map(Scalar::Str),
        fallbackcommand: d.fallbackcommand.clone().map(Scalar::Str),
        emailalert,
        emailalertfreq,
        emailalertstatus,
        emailalertfrom,
        smtp,
        syncdaemon: (!g.syncdaemon.is_empty()).then(|| {
            let parts: Vec<String> = g
                .syncdaemon
                .iter()
                .map(|d| {
                    let st = if d.state == crate::ipvs::SyncState::Master {
                        "master"
                    } else {
                        "backup"
                    };
                    format!("{st} {} {}", d.ifname, d.syncid)
                })
                .collect();
            Scalar::Str(parts.join(", "))
        }),
        fallback: d.fallback.as_ref().map(|f| StrOrMap::Str(fallback_text(f))),
        fallback6: d
            .fallback6
            .as_ref()
            .map(|f| StrOrMap::Str(fallback_text(f))),
        virtuals: config
            .virtuals
            .iter()
            .map(|v| virtual_entry(v, d))
            .collect(),
        ..YamlConfig::default()
    };
    let body = yaml_serde::to_string(&y).unwrap_or_else(|e| format!("# cannot render: {e}\n"));
    format!("# ldirectord-rs configuration (YAML). Keys are ldirectord's directives.\n{body}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_index_follows_paths() {
        let text = "a: 1\nvirtuals:\n- virtual: x\n  reals:\n  - r0\n  - r1\n  scheduler: rr\n- fwmark: 3\n  # c\n  reals:\n    - q0\n";
        let ix = LineIndex::new(text);
        assert_eq!(ix.locate(&[Seg::Key("a")]), 1);
        assert_eq!(ix.locate(&[Seg::Key("virtuals"), Seg::Index(0)]), 3);
        assert_eq!(
            ix.locate(&[Seg::Key("virtuals"), Seg::Index(0), Seg::Key("virtual")]),
            3
        );
        assert_eq!(
            ix.locate(&[
                Seg::Key("virtuals"),
                Seg::Index(0),
                Seg::Key("reals"),
                Seg::Index(1)
            ]),
            6
        );
        assert_eq!(
            ix.locate(&[Seg::Key("virtuals"), Seg::Index(0), Seg::Key("scheduler")]),
            7
        );
        assert_eq!(
            ix.locate(&[
                Seg::Key("virtuals"),
                Seg::Index(1),
                Seg::Key("reals"),
                Seg::Index(0)
            ]),
            11
        );
        // Not found: the deepest line found.
        assert_eq!(
            ix.locate(&[Seg::Key("virtuals"), Seg::Index(1), Seg::Key("nope")]),
            8
        );
    }

    #[test]
    fn scalars_keep_their_text() {
        let y: YamlVirtual =
            yaml_serde::from_str("fwmark: 10\nops: true\nchecktimeout: 0.5\nrequest: /x").unwrap();
        let s: Vec<(&str, String)> = y
            .scalars()
            .into_iter()
            .map(|(k, v)| (k, v.text()))
            .collect();
        assert!(s.contains(&("fwmark", "10".into())));
        assert!(s.contains(&("ops", "true".into())));
        assert!(s.contains(&("checktimeout", "0.5".into())));
        assert!(s.contains(&("request", "/x".into())));
    }
}
