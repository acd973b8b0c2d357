//! The server's own account of each request: what it handed to hyper and hyper's verdict on the
//! connection. This is what makes a truncation *silent* from the server's view: hyper took the
//! whole body and the connection future ended `Ok(())`, yet the client got fewer bytes.
//!
//! Accounts live in memory (bounded) and, with `--accounts FILE`, are appended to a JSONL file
//! when their connection ends, so a restarted process can answer for the previous one.

use std::collections::{HashMap, VecDeque};
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

/// MAX_ACCOUNTS bounds the in-memory map; the oldest ids are forgotten first.
const MAX_ACCOUNTS: usize = 100_000;

/// Account is one request as this server saw it. Field names match the Go service's account.
#[derive(Clone, Debug, Default)]
pub struct Account {
    pub request_id: String,
    pub method: String,
    pub path: String,
    pub status: u16,
    /// content_length is what the head promised (-1 when there is no body to promise).
    pub content_length: i64,
    /// bytes_written counts body bytes hyper pulled from our body (handed to hyper).
    pub bytes_written: i64,
    /// body_done: hyper pulled the last byte of the body.
    pub body_done: bool,
    /// upload_bytes counts request-body bytes read (uploads; -1 when not read: early answer).
    pub upload_bytes: i64,
    /// early_answer: answered an upload without reading its body.
    pub early_answer: bool,
    /// conn_state: "open" (connection still running), "ok" (its future ended Ok),
    /// "error" (ended with an error), "abandoned" (process exited before it ended).
    pub conn_state: String,
    /// write_error: hyper's error for the connection, or a note that the body was dropped early.
    pub write_error: String,
    pub conn_id: String,
    pub flavor: String,
    pub pid: u32,
    pub started: String,
    pub finished: String,
}

impl Account {
    /// complete is the server's belief that the client got everything: hyper took the whole
    /// body and nothing has failed on the connection (while it is still open: so far).
    pub fn complete(&self) -> bool {
        self.body_done
            && self.write_error.is_empty()
            && (self.conn_state == "ok" || self.conn_state == "open")
    }

    /// conn_end is how the connection stood, in the account protocol's words:
    /// "open", "closed" (its future ended Ok), "error: ..." (ended with an error,
    /// or abandoned at exit).
    pub fn conn_end(&self) -> String {
        match self.conn_state.as_str() {
            "ok" => "closed".into(),
            "error" => format!("error: {}", self.write_error),
            "abandoned" => "error: abandoned at exit".into(),
            "" => String::new(),
            other => other.into(),
        }
    }

    /// to_json renders the account as one JSON object (one JSONL line without the
    /// newline) in the account protocol's fields (snake_case, as harness/account
    /// documents), followed by this server's own (conn_state, body_done, ...).
    pub fn to_json(&self) -> String {
        let mut o = format!(
            concat!(
                "{{\"request_id\":{},\"method\":{},\"path\":{},\"status\":{},\"content_length\":{},",
                "\"bytes_written\":{},\"write_error\":{},\"complete\":{},\"finished\":{},\"conn_id\":{},",
                "\"conn_end\":{},\"started\":{}"
            ),
            q(&self.request_id),
            q(&self.method),
            q(&self.path),
            self.status,
            self.content_length,
            self.bytes_written,
            q(&self.write_error),
            self.complete(),
            !self.finished.is_empty(),
            q(&self.conn_id),
            q(&self.conn_end()),
            q(&self.started),
        );
        if !self.finished.is_empty() {
            o.push_str(&format!(",\"ended\":{}", q(&self.finished)));
        }
        o.push_str(&format!(
            ",\"conn_state\":{},\"body_done\":{},\"upload_bytes\":{},\"early_answer\":{},\"flavor\":{},\"pid\":{}}}",
            q(&self.conn_state),
            self.body_done,
            self.upload_bytes,
            self.early_answer,
            q(&self.flavor),
            self.pid,
        ));
        o
    }

    /// from_json reads back a line written by to_json (unknown fields ignored).
    pub fn from_json(line: &str) -> Option<Account> {
        let m = parse_flat_object(line)?;
        let s = |k: &str| match m.get(k) {
            Some(Val::Str(v)) => v.clone(),
            _ => String::new(),
        };
        let n = |k: &str| match m.get(k) {
            Some(Val::Num(v)) => *v,
            _ => 0,
        };
        let b = |k: &str| matches!(m.get(k), Some(Val::Bool(true)));
        let a = Account {
            request_id: s("request_id"),
            method: s("method"),
            path: s("path"),
            status: n("status") as u16,
            content_length: n("content_length"),
            bytes_written: n("bytes_written"),
            body_done: b("body_done"),
            upload_bytes: n("upload_bytes"),
            early_answer: b("early_answer"),
            conn_state: s("conn_state"),
            write_error: s("write_error"),
            conn_id: s("conn_id"),
            flavor: s("flavor"),
            pid: n("pid") as u32,
            started: s("started"),
            finished: s("ended"),
        };
        if a.request_id.is_empty() {
            None
        } else {
            Some(a)
        }
    }
}

/// Shared is an account being filled in by a request and its connection.
pub type Shared = Arc<Mutex<Account>>;

/// Store maps request ids to accounts, in memory and optionally in a JSONL file.
pub struct Store {
    inner: Mutex<StoreInner>,
    file: Option<(PathBuf, Mutex<File>)>,
}

struct StoreInner {
    live: HashMap<String, Shared>,
    order: VecDeque<String>,
}

impl Store {
    /// open loads `path` (if given and present) and opens it for appending.
    pub fn open(path: Option<PathBuf>) -> Result<Store, String> {
        let store = |file| Store {
            inner: Mutex::new(StoreInner {
                live: HashMap::new(),
                order: VecDeque::new(),
            }),
            file,
        };
        let Some(path) = path else {
            return Ok(store(None));
        };
        let loaded = load(&path, None);
        let f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| {
                format!(
                    "--accounts {}: cannot open for appending: {}",
                    path.display(),
                    e
                )
            })?;
        let s = store(Some((path, Mutex::new(f))));
        for a in loaded {
            s.insert(Arc::new(Mutex::new(a)));
        }
        Ok(s)
    }

    /// insert registers an account (a later one with the same id replaces the earlier).
    pub fn insert(&self, a: Shared) {
        let id = a.lock().unwrap().request_id.clone();
        let mut g = self.inner.lock().unwrap();
        if g.live.insert(id.clone(), a).is_none() {
            g.order.push_back(id);
        }
        while g.order.len() > MAX_ACCOUNTS {
            if let Some(old) = g.order.pop_front() {
                g.live.remove(&old);
            }
        }
    }

    /// get finds an account in memory, then (for ids a previous process served) in the file.
    pub fn get(&self, id: &str) -> Option<Shared> {
        if let Some(a) = self.inner.lock().unwrap().live.get(id).cloned() {
            return Some(a);
        }
        let (path, _) = self.file.as_ref()?;
        let a = load(path, Some(id)).pop()?;
        let a = Arc::new(Mutex::new(a));
        self.insert(a.clone());
        Some(a)
    }

    /// persist appends the account's final state to the file, one line in one write.
    pub fn persist(&self, a: &Account) {
        if let Some((path, f)) = &self.file {
            let mut line = a.to_json();
            line.push('\n');
            if let Err(e) = f.lock().unwrap().write_all(line.as_bytes()) {
                eprintln!("accounts: append to {} failed: {}", path.display(), e);
            }
        }
    }
}

/// load reads every account in the file (or, with `only`, the last one for that id).
fn load(path: &PathBuf, only: Option<&str>) -> Vec<Account> {
    let Ok(f) = File::open(path) else {
        return Vec::new();
    };
    let mut out: Vec<Account> = Vec::new();
    for line in BufReader::new(f).lines() {
        let Ok(line) = line else { break };
        if let Some(id) = only {
            if !line.contains(id) {
                continue;
            }
        }
        match Account::from_json(&line) {
            Some(a) if only.is_none_or(|id| a.request_id == id) => out.push(a),
            _ => {}
        }
    }
    if only.is_some() {
        out.split_off(out.len().saturating_sub(1))
    } else {
        out
    }
}

/// q quotes a string as JSON.
pub fn q(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

enum Val {
    Str(String),
    Num(i64),
    Bool(bool),
    Null,
}

/// parse_flat_object parses `{"k":v,...}` where every v is a string, integer, bool or null:
/// exactly what to_json writes. Anything else gives None (a torn last line is skipped).
fn parse_flat_object(s: &str) -> Option<HashMap<String, Val>> {
    let b = s.trim().as_bytes();
    let mut i = 0;
    let ws = |i: &mut usize| {
        while *i < b.len() && (b[*i] as char).is_ascii_whitespace() {
            *i += 1;
        }
    };
    let string = |i: &mut usize| -> Option<String> {
        if b.get(*i) != Some(&b'"') {
            return None;
        }
        *i += 1;
        let mut out = Vec::new();
        loop {
            let c = *b.get(*i)?;
            *i += 1;
            match c {
                b'"' => return String::from_utf8(out).ok(),
                b'\\' => {
                    let e = *b.get(*i)?;
                    *i += 1;
                    match e {
                        b'n' => out.push(b'\n'),
                        b'r' => out.push(b'\r'),
                        b't' => out.push(b'\t'),
                        b'u' => {
                            let hex = std::str::from_utf8(b.get(*i..*i + 4)?).ok()?;
                            let cp = u32::from_str_radix(hex, 16).ok()?;
                            *i += 4;
                            let mut buf = [0u8; 4];
                            out.extend_from_slice(
                                char::from_u32(cp)?.encode_utf8(&mut buf).as_bytes(),
                            );
                        }
                        other => out.push(other),
                    }
                }
                c => out.push(c),
            }
        }
    };
    let mut m = HashMap::new();
    ws(&mut i);
    if b.get(i) != Some(&b'{') {
        return None;
    }
    i += 1;
    loop {
        ws(&mut i);
        if b.get(i) == Some(&b'}') {
            return Some(m);
        }
        let k = string(&mut i)?;
        ws(&mut i);
        if b.get(i) != Some(&b':') {
            return None;
        }
        i += 1;
        ws(&mut i);
        let v = match *b.get(i)? {
            b'"' => Val::Str(string(&mut i)?),
            b't' if b[i..].starts_with(b"true") => {
                i += 4;
                Val::Bool(true)
            }
            b'f' if b[i..].starts_with(b"false") => {
                i += 5;
                Val::Bool(false)
            }
            b'n' if b[i..].starts_with(b"null") => {
                i += 4;
                Val::Null
            }
            _ => {
                let st = i;
                while i < b.len() && (b[i] == b'-' || b[i].is_ascii_digit()) {
                    i += 1;
                }
                Val::Num(std::str::from_utf8(&b[st..i]).ok()?.parse().ok()?)
            }
        };
        m.insert(k, v);
        ws(&mut i);
        match b.get(i) {
            Some(b',') => i += 1,
            Some(b'}') => return Some(m),
            _ => return None,
        }
    }
}

/// rfc3339 formats a time as `2026-11-27T02:24:20.123456Z` (what Go's time.Time parses).
pub fn rfc3339(t: SystemTime) -> String {
    let d = t.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // civil_from_days (H. Hinnant).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + if month <= 2 { 1 } else { 0 };
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
        year,
        month,
        day,
        rem / 3600,
        rem / 60 % 60,
        rem % 60,
        d.subsec_micros()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn json_round_trip() {
        let a = Account {
            request_id: "r-1".into(),
            method: "GET".into(),
            path: "/bytes/10?x=\"y\"".into(),
            status: 200,
            content_length: 10,
            bytes_written: 10,
            body_done: true,
            upload_bytes: -1,
            conn_state: "ok".into(),
            write_error: "line\nbreak".into(),
            ..Default::default()
        };
        let b = Account::from_json(&a.to_json()).unwrap();
        assert_eq!(b.to_json(), a.to_json());
        assert!(Account::from_json("{\"request_id\":\"x\",").is_none());
        let done = Account { finished: "2026-11-27T02:24:20.000000Z".into(), ..a.clone() };
        assert!(done.to_json().contains("\"finished\":true,"));
        assert!(done.to_json().contains("\"ended\":\"2026-11-27T02:24:20.000000Z\""));
        assert!(a.to_json().contains("\"finished\":false,"));
        assert!(!a.to_json().contains("\"ended\""));
        assert_eq!(Account::from_json(&done.to_json()).unwrap().to_json(), done.to_json());
    }

    #[test]
    fn time_format() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_746_260);
        assert_eq!(rfc3339(t), "2026-11-27T02:24:20.000000Z");
    }
}
