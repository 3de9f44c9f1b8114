//! Errors of the model layer: either a rule of the model (E_* ids shared with
//! the TypeScript layer, see docs/multipoint-model.md) or a failed system call.

use std::fmt;

use crate::net::NetError;

#[derive(Debug)]
pub struct CoreError {
    /// E_* id of the model, or an errno name (`ENOBUFS`) for kernel refusals.
    pub code: String,
    pub message: String,
    pub errno: Option<i32>,
    pub syscall: Option<&'static str>,
}

impl CoreError {
    pub fn rule(code: &str, message: impl Into<String>) -> Self {
        CoreError { code: code.to_owned(), message: message.into(), errno: None, syscall: None }
    }
}

impl From<NetError> for CoreError {
    fn from(e: NetError) -> Self {
        CoreError { code: e.code().to_owned(), message: e.to_string(), errno: e.errno(), syscall: Some(e.syscall) }
    }
}

impl fmt::Display for CoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

pub type CoreResult<T> = Result<T, CoreError>;
