//! A plain-Rust picture of the JavaScript values mcast hands to Node. Model
//! code builds these (no N-API involved, testable with `cargo test`); `env.rs`
//! turns them into real JS values in one place.

use std::fmt;

#[derive(Debug, Clone, PartialEq)]
pub enum JsVal {
    Undefined,
    Null,
    Bool(bool),
    Num(f64),
    Str(String),
    /// Exact 64-bit counters (sequence numbers, session ids) as BigInt.
    BigU64(u64),
    Buf(Vec<u8>),
    Arr(Vec<JsVal>),
    Obj(Vec<(&'static str, JsVal)>),
}

impl JsVal {
    pub fn obj() -> ObjBuilder {
        ObjBuilder(Vec::new())
    }

    /// A number, or null when absent.
    pub fn opt_num(v: Option<impl Into<f64>>) -> JsVal {
        v.map_or(JsVal::Null, |n| JsVal::Num(n.into()))
    }

    /// A 64-bit number taken from the network (a sequence number): a plain
    /// number when exact (at most 2^53 - 1), a BigInt above, so it is never
    /// rounded (JSON output prints a BigInt as an exact integer,
    /// `src/ui/json.ts`); null when absent.
    pub fn exact_u64(v: Option<u64>) -> JsVal {
        const MAX_SAFE: u64 = (1 << 53) - 1;
        match v {
            None => JsVal::Null,
            Some(n) if n <= MAX_SAFE => JsVal::Num(n as f64),
            Some(n) => JsVal::BigU64(n),
        }
    }
}

/// Builder for `JsVal::Obj` that keeps property order (stable JSON output).
pub struct ObjBuilder(Vec<(&'static str, JsVal)>);

impl ObjBuilder {
    pub fn set(mut self, key: &'static str, v: impl Into<JsVal>) -> Self {
        self.0.push((key, v.into()));
        self
    }
    pub fn set_opt(self, key: &'static str, v: Option<impl Into<JsVal>>) -> Self {
        match v {
            Some(v) => self.set(key, v),
            None => self.set(key, JsVal::Null),
        }
    }
    pub fn build(self) -> JsVal {
        JsVal::Obj(self.0)
    }
}

impl From<bool> for JsVal {
    fn from(v: bool) -> Self {
        JsVal::Bool(v)
    }
}
impl From<f64> for JsVal {
    fn from(v: f64) -> Self {
        JsVal::Num(v)
    }
}
impl From<u8> for JsVal {
    fn from(v: u8) -> Self {
        JsVal::Num(v as f64)
    }
}
impl From<u16> for JsVal {
    fn from(v: u16) -> Self {
        JsVal::Num(v as f64)
    }
}
impl From<u32> for JsVal {
    fn from(v: u32) -> Self {
        JsVal::Num(v as f64)
    }
}
impl From<i32> for JsVal {
    fn from(v: i32) -> Self {
        JsVal::Num(v as f64)
    }
}
/// u64 counters below 2^53 are exact as numbers; JS sees plain numbers.
impl From<u64> for JsVal {
    fn from(v: u64) -> Self {
        JsVal::Num(v as f64)
    }
}
impl From<usize> for JsVal {
    fn from(v: usize) -> Self {
        JsVal::Num(v as f64)
    }
}
impl From<String> for JsVal {
    fn from(v: String) -> Self {
        JsVal::Str(v)
    }
}
impl From<&str> for JsVal {
    fn from(v: &str) -> Self {
        JsVal::Str(v.to_owned())
    }
}
impl<T: Into<JsVal>> From<Vec<T>> for JsVal {
    fn from(v: Vec<T>) -> Self {
        JsVal::Arr(v.into_iter().map(Into::into).collect())
    }
}

/// An error that crosses into JS as a Node-style system error: `code` is an
/// errno name (`ENODEV`) or an mcast id (`E_ROLE_UNSUPPORTED`).
#[derive(Debug, Clone, PartialEq)]
pub struct JsError {
    pub code: String,
    pub message: String,
    pub errno: Option<i32>,
    pub syscall: Option<String>,
}

impl JsError {
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self { code: code.into(), message: message.into(), errno: None, syscall: None }
    }
    pub fn invalid_arg(message: impl Into<String>) -> Self {
        Self::new("ERR_INVALID_ARG", message)
    }
}

impl fmt::Display for JsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl From<crate::net::NetError> for JsError {
    fn from(e: crate::net::NetError) -> Self {
        JsError { code: e.code().to_owned(), message: e.to_string(), errno: e.errno(), syscall: Some(e.syscall.to_owned()) }
    }
}

pub type JsResult<T> = Result<T, JsError>;
