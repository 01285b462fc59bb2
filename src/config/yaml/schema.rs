//! The YAML document's shape: serde types whose values are scalars kept as
//! written, so the shared value grammar reads their text.

use super::limits::charge;
use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

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
    pub(super) fn str(s: impl Into<String>) -> Option<Scalar> {
        Some(Scalar::Str(s.into()))
    }
    pub(super) fn int(n: impl Into<i64>) -> Option<Scalar> {
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
                charge(0)?;
                Ok(Scalar::Bool(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Scalar, E> {
                charge(0)?;
                Ok(Scalar::Int(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Scalar, E> {
                charge(0)?;
                Ok(i64::try_from(v).map_or_else(|_| Scalar::Str(v.to_string()), Scalar::Int))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Scalar, E> {
                charge(0)?;
                Ok(Scalar::Float(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Scalar, E> {
                charge(v.len())?;
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
                charge(v.len())?;
                Ok(StrOrMap::Str(v.to_string()))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                charge::<A::Error>(0)?;
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
        resyncinterval, maxchecks, statusaddress, statusallow, syncdaemon, fork, supervised,
        callback, fallbackcommand,
        emailalert, emailalertfreq, emailalertstatus, emailalertfrom, smtp,
        checkcount,
    }
    extra {
        /// `execute:` one configuration, or a list of them.
        #[serde(default, skip_serializing_if = "Vec::is_empty", deserialize_with = "one_or_many")]
        execute: Vec<String>,
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
        httpstatus, verifytls, cafile, clientcert, clientkey, sni,
        checkinterval, checktimeout, negotiatetimeout, failurecount, risecount, quiescent, cleanstop,
        fallbackcommand, monitorfile,
        emailalert, emailalertfreq, emailalertstatus, emailalertfrom, smtp,
        checkcount,
        login, passwd, database, secret, load,
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

/// A string, or a list of strings.
fn one_or_many<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match OneOrMany::deserialize(d)? {
        OneOrMany::One(s) => vec![s],
        OneOrMany::Many(v) => v,
    })
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

#[cfg(test)]
mod tests {
    use super::*;

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
