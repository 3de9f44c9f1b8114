//! Handles given to JavaScript: small integers naming native resources held
//! here. JS never holds a pointer, so a stale or forged handle is an error,
//! not memory unsafety.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use super::value::JsError;
use crate::engine::Engine;
use crate::model::multipoint::MultipointSocket;

pub enum Resource {
    Socket(Arc<MultipointSocket>),
    Engine(Arc<Engine>),
}

struct Table {
    next: u32,
    items: HashMap<u32, Resource>,
}

fn table() -> &'static Mutex<Table> {
    static T: OnceLock<Mutex<Table>> = OnceLock::new();
    T.get_or_init(|| Mutex::new(Table { next: 1, items: HashMap::new() }))
}

pub fn insert(r: Resource) -> u32 {
    let mut t = table().lock().unwrap_or_else(|e| e.into_inner());
    let id = t.next;
    t.next = t.next.wrapping_add(1).max(1);
    t.items.insert(id, r);
    id
}

pub fn socket(id: u32) -> Result<Arc<MultipointSocket>, JsError> {
    let t = table().lock().unwrap_or_else(|e| e.into_inner());
    match t.items.get(&id) {
        Some(Resource::Socket(s)) => Ok(s.clone()),
        _ => Err(JsError::new("ERR_INVALID_HANDLE", format!("no open multipoint socket with handle {id}"))),
    }
}

pub fn engine(id: u32) -> Result<Arc<Engine>, JsError> {
    let t = table().lock().unwrap_or_else(|e| e.into_inner());
    match t.items.get(&id) {
        Some(Resource::Engine(e)) => Ok(e.clone()),
        _ => Err(JsError::new("ERR_INVALID_HANDLE", format!("no running engine with handle {id}"))),
    }
}

pub fn remove(id: u32) -> Option<Resource> {
    table().lock().unwrap_or_else(|e| e.into_inner()).items.remove(&id)
}

/// Remove `id` only if it names a socket: any other resource stays under its
/// handle (taking it out and putting it back would give it a new one).
pub fn remove_socket(id: u32) -> Result<Option<Arc<MultipointSocket>>, JsError> {
    let mut t = table().lock().unwrap_or_else(|e| e.into_inner());
    match t.items.get(&id) {
        None => Ok(None),
        Some(Resource::Socket(_)) => match t.items.remove(&id) {
            Some(Resource::Socket(s)) => Ok(Some(s)),
            _ => Ok(None),
        },
        Some(Resource::Engine(_)) => Err(JsError::new("ERR_INVALID_HANDLE", format!("handle {id} is an engine, not a socket"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::multipoint::{MultipointSocket, WSA_FLAG_MULTIPOINT_C_LEAF, WSA_FLAG_MULTIPOINT_D_LEAF};

    #[test]
    fn closing_a_non_socket_handle_leaves_it_where_it_was() {
        let s = MultipointSocket::open(1001, WSA_FLAG_MULTIPOINT_C_LEAF | WSA_FLAG_MULTIPOINT_D_LEAF).unwrap_or_else(|e| panic!("{e}"));
        let id = insert(Resource::Socket(Arc::new(s)));
        assert!(matches!(remove_socket(id), Ok(Some(_))));
        assert!(matches!(remove_socket(id), Ok(None)), "already closed");
    }
}
