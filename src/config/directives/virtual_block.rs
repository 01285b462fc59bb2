//! The directives of a `virtual=` block.

use super::*;

/// One virtual block as written.
#[derive(Debug, Clone)]
pub struct RawVirtual {
    pub line: usize,
    /// `None` when the `virtual=` value itself was bad (its block is still
    /// checked, then dropped).
    pub addr: Option<VirtualAddr>,
    pub v6: bool,
    pub settings: RawSettings,
    pub protocol: Option<(ProtocolWord, usize)>,
    pub scheduler: Option<String>,
    pub persistent: Option<u32>,
    pub netmask: Option<u32>,
    pub schedflags: Option<(String, usize)>,
    pub ops: Option<(bool, usize)>,
    pub reals: Vec<(RealSpec, usize)>,
    pub fallback: Option<(FallbackSpec, usize)>,
    pub checktype: Option<(CheckType, usize)>,
    /// Explicit `service=` (an unsupported one was reported and reads as
    /// none, so no second error follows).
    pub service: Option<CheckService>,
    pub login: Option<String>,
    pub passwd: Option<String>,
    pub database: Option<String>,
    pub secret: Option<String>,
    pub warnings: Warnings,
    pub checkport: Option<u16>,
    pub request: Option<String>,
    pub receive: Option<String>,
    pub httpmethod: Option<HttpMethod>,
    pub virtualhost: Option<String>,
    pub checkcommand: Option<String>,
    pub comment: Option<String>,
    pub connectcount: Option<u32>,
    pub monitorfile: Option<PathBuf>,
    pub http: crate::config::value::http::RawHttp,
}

impl RawVirtual {
    /// Start a block from `virtual=VALUE` (`virtual6=` when `v6`).
    pub(crate) fn start(value: &str, v6: bool, line: usize, errs: &mut Problems) -> RawVirtual {
        let key = if v6 { "virtual6" } else { "virtual" };
        let mut v = RawVirtual::empty(line, v6);
        match parse_virtual(value, v6) {
            Ok(a) => v.addr = Some(a),
            Err(e) => errs.push((line, bad(key, value, e))),
        }
        v
    }

    /// A block without a (valid) address: its lines are checked, then it is
    /// dropped.
    pub(crate) fn empty(line: usize, v6: bool) -> RawVirtual {
        RawVirtual {
            line,
            addr: None,
            v6,
            settings: RawSettings::default(),
            protocol: None,
            scheduler: None,
            persistent: None,
            netmask: None,
            schedflags: None,
            ops: None,
            reals: Vec::new(),
            fallback: None,
            checktype: None,
            service: None,
            login: None,
            passwd: None,
            database: None,
            secret: None,
            warnings: Vec::new(),
            checkport: None,
            request: None,
            receive: None,
            httpmethod: None,
            virtualhost: None,
            checkcommand: None,
            comment: None,
            connectcount: None,
            monitorfile: None,
            http: Default::default(),
        }
    }

    /// Push a parsed real (from `real=` or a YAML map).
    pub(crate) fn push_real(&mut self, mut r: RealSpec, line: usize, errs: &mut Problems) {
        // Raw bytes of a .cf line (see `bytes`): the request reads them as
        // Latin-1, the receive regex matches them as bytes.
        r.request = r.request.map(|q| latin1(&q).into_owned());
        r.receive = r.receive.map(|q| receive_pattern(&q).into_owned());
        if let Some(rx) = &r.receive {
            if let Err(e) = check_regex(rx) {
                errs.push((line, format!("invalid receive \"{rx}\" on real: {e}")));
                return;
            }
        }
        self.reals.push((r, line));
    }
}

impl Scope for RawVirtual {
    fn settings(&mut self) -> &mut RawSettings {
        &mut self.settings
    }

    fn warnings(&mut self) -> &mut Warnings {
        &mut self.warnings
    }

    fn own(
        &mut self,
        key: &str,
        value: &str,
        line: usize,
        errs: &mut Problems,
    ) -> Option<Result<(), String>> {
        let fam_other = |base: &str| -> String {
            let (have, want) = if self.v6 {
                (base.to_string(), format!("{base}6"))
            } else {
                (format!("{base}6"), base.to_string())
            };
            format!("cannot specify \"{have}\" here. please use \"{want}\" instead")
        };
        let v6 = self.v6;
        Some(match key {
                "real" | "real6" if (key == "real6") != v6 => Err(fam_other("real")),
                "real" | "real6" => match parse_real(value, v6) {
                    Ok(r) => {
                        self.push_real(r, line, errs);
                        Ok(())
                    }
                    Err(e) => Err(format!("invalid real server \"{}\": {e}", latin1(value.trim()))),
                },
                "fallback" | "fallback6" if (key == "fallback6") != v6 => Err(fam_other("fallback")),
                "fallback" | "fallback6" => {
                    parse_fallback(value, v6).map(|f| self.fallback = Some((f, line))).map_err(|e| bad(key, value, e))
                }
                "login" | "passwd" | "database" | "secret" => {
                    if value.is_empty() {
                        let what = match key {
                            "login" => "login string",
                            "passwd" => "password",
                            k => k,
                        };
                        Err(format!("invalid {what}: empty"))
                    } else {
                        let slot = match key {
                            "login" => &mut self.login,
                            "passwd" => &mut self.passwd,
                            "database" => &mut self.database,
                            _ => &mut self.secret,
                        };
                        *slot = Some(value.to_string());
                        Ok(())
                    }
                }
                // ldirectord stores load= and never uses it.
                "load" => {
                    if value.chars().any(|c| c.is_alphanumeric() || c == '_') {
                        Ok(())
                    } else {
                        Err("invalid string for load testing".into())
                    }
                }
                "request" => {
                    if value.is_empty() {
                        Err("no request string specified".into())
                    } else {
                        self.request = Some(value.to_string());
                        Ok(())
                    }
                }
                "receive" => {
                    if value.is_empty() {
                        Err("invalid receive string: empty".into())
                    } else {
                        check_regex(value).map(|()| self.receive = Some(value.to_string())).map_err(|e| bad(key, value, e))
                    }
                }
                "checktype" => match parse_connectcount(value) {
                    Some(n) => n.map(|n| {
                        self.connectcount = Some(n);
                        self.checktype = Some((CheckType::Negotiate, line));
                    }),
                    None => parse_checktype(value).map(|t| {
                        self.connectcount = None;
                        self.checktype = Some((t, line));
                    }),
                },
                "monitorfile" => {
                    let p = value.trim();
                    if p.starts_with('/') {
                        self.monitorfile = Some(PathBuf::from(p));
                        Ok(())
                    } else {
                        Err(format!("invalid monitorfile \"{p}\": an absolute path is required"))
                    }
                }
                "checkcommand" => {
                    if value.trim().is_empty() {
                        Err("invalid check command: empty".into())
                    } else {
                        self.checkcommand = Some(value.trim().to_string());
                        Ok(())
                    }
                }
                "checkport" => match parse_port(value) {
                    Ok(0) => Err(bad(key, value, "checkport must be in range 1..65535".into())),
                    Ok(p) => {
                        self.checkport = Some(p);
                        Ok(())
                    }
                    Err(e) => Err(bad(key, value, e)),
                },
                "scheduler" => {
                    let s = value.trim();
                    if !s.is_empty() && s.chars().all(|c| c.is_ascii_lowercase()) {
                        self.scheduler = Some(s.to_string());
                        Ok(())
                    } else {
                        Err(bad(key, value, "should be only lowercase letters (a-z), e.g. rr, wrr, lc, wlc, sh".into()))
                    }
                }
                "persistent" => parse_count(value, 1).map(|n| self.persistent = Some(n)).map_err(|e| bad(key, value, e)),
                "schedflags" => {
                    if value.trim().is_empty() {
                        Err("invalid schedflags: empty".into())
                    } else {
                        self.schedflags = Some((value.trim().to_string(), line));
                        Ok(())
                    }
                }
                "netmask" => parse_netmask(value, v6).map(|m| self.netmask = Some(m)).map_err(|e| bad(key, value, e)),
                "protocol" => parse_protocol(value).map(|p| self.protocol = Some((p, line))),
                "ops" => parse_bool(value).map(|b| self.ops = Some((b, line))).map_err(|e| bad(key, value, e)),
                "service" => match parse_service(value) {
                    Ok(s) => {
                        self.service = Some(s);
                        Ok(())
                    }
                    Err(e) => {
                        self.service = Some(CheckService::None);
                        Err(e)
                    }
                },
                "httpmethod" => parse_httpmethod(value).map(|m| self.httpmethod = Some(m)),
                "virtualhost" => {
                    let v = unquote(value);
                    if v.is_empty() {
                        Err("invalid virtualhost: empty".into())
                    } else {
                        self.virtualhost = Some(v.to_string());
                        Ok(())
                    }
                }
                "servicename" | "comment" => {
                    let v = value.trim();
                    if !v.is_empty() {
                        self.comment = Some(match self.comment.take() {
                            Some(prev) => format!("{prev}; {v}"),
                            None => v.to_string(),
                        });
                    }
                    Ok(())
                }
                k if http::HTTP_OPTIONS.contains(&k) => return self.http.apply(k, value, line),
                k if GLOBAL_ONLY.contains(&k) => Err(format!(
                    "{k} is a global directive: write it at column 0, before or between virtual blocks, not indented"
                )),
                "virtual" | "virtual6" => Err(format!("{key}= must start at column 0 (it begins a new block)")),
                _ => return None,
        })
    }
}
