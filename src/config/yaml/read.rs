//! Reading a YAML document: each key goes through the same directive model
//! as a `.cf` line, with the line found by [`LineIndex`]; then the whole is
//! resolved.

use super::lines::{LineIndex, Seg};
use super::schema::{Scalar, StrOrMap, YamlConfig, YamlFallback, YamlReal, YamlVirtual};
use crate::config::directives::{Applied, RawGlobal, RawVirtual, Scope};
use crate::config::hosts::{Resolver, SystemResolver};
use crate::config::{resolve, value, Config, ConfigError, ConfigErrors, Problems};
use std::path::Path;

fn yaml_error(path: &Path, e: &yaml_serde::Error) -> ConfigErrors {
    let line = e.location().map_or(0, |l| l.line());
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

/// Parse a YAML config (names resolved by the system).
pub fn parse(path: &Path, text: &str) -> Result<Config, ConfigErrors> {
    parse_with(path, text, &SystemResolver)
}

/// Parse a YAML config, names looked up through `resolver`.
pub fn parse_with(
    path: &Path,
    text: &str,
    resolver: &dyn Resolver,
) -> Result<Config, ConfigErrors> {
    let empty = text.lines().all(|l| {
        let t = l.trim();
        t.is_empty() || t.starts_with('#') || t == "---"
    });
    if let Some(line) = super::limits::too_deep(text) {
        return Err(ConfigErrors(vec![ConfigError {
            file: path.to_path_buf(),
            line,
            message: format!(
                "nested deeper than {} levels of [ or {{; refused",
                super::limits::MAX_DEPTH
            ),
        }]));
    }
    let y: YamlConfig = if empty {
        YamlConfig::default()
    } else {
        super::limits::with_budget(text, || yaml_serde::from_str(text))
            .map_err(|e| yaml_error(path, &e))?
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
    for (i, e) in y.execute.iter().enumerate() {
        let line = ix.locate(&[Seg::Key("execute"), Seg::Index(i)]);
        g.apply("execute", e, line, &mut errs);
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
    resolve::resolve(path, &g, &virtuals, errs, resolver)
}
