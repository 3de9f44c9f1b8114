//! The packet engines: each runs on its own Rust thread, keeps its statistics
//! in Rust, and is observed from JavaScript only through periodic snapshots
//! (never a call per packet). A slow terminal can delay a snapshot, never the
//! packet path.

pub mod filter;
pub mod pacing;
pub mod pinger;
pub mod querier;
pub mod receiver;
pub mod receiver_snapshot;
pub mod recv_loop;
pub mod responder;
pub mod sender;
pub mod ssmping_client;
pub mod ssmping_server;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

/// What an engine shows of itself: plain Rust values. The JS layer
/// (`js/snapshot.rs`) names the fields JavaScript sees; engines never do.
#[derive(Debug, Clone)]
pub enum Snapshot {
    Receiver(Box<receiver::ReceiverSnapshot>),
    Sender(sender::SenderSnapshot),
    Pinger(pinger::PingerSnapshot),
    Responder(responder::ResponderSnapshot),
    SsmpingServer(Box<ssmping_server::ServerSnapshot>),
    SsmpingClient(Box<ssmping_client::ClientSnapshot>),
    Querier(querier::QuerierSnapshot),
}

/// What an engine exposes to the JS layer.
pub trait EngineState: Send + Sync {
    fn snapshot(&self) -> Snapshot;
    /// Whether its thread has finished, and why if it failed.
    fn status(&self) -> &Status;
}

/// Whether an engine's thread has finished and, if it ended abnormally, why.
/// Every engine has one, so "failed" is spelled one way (`error`) for all.
///
/// It has its own lock: a snapshot reads it *before* the engine's counters,
/// and the thread marks itself done only after its last counter update, so a
/// snapshot that says done always carries the final counts.
#[derive(Default)]
pub struct Status(Mutex<StatusView>);

#[derive(Debug, Clone, Default, PartialEq)]
pub struct StatusView {
    pub done: bool,
    /// Why the engine stopped abnormally (the first reason given), else None.
    pub error: Option<String>,
}

impl Status {
    /// The engine cannot go on: record why (the first reason wins, it is the
    /// cause) and mark it done, so the command stops and says so.
    pub fn fail(&self, why: impl Into<String>) {
        let mut s = lock(&self.0);
        if s.error.is_none() {
            s.error = Some(why.into());
        }
        s.done = true;
    }

    /// The engine's thread has finished (its counters are final).
    pub fn finish(&self) {
        lock(&self.0).done = true;
    }

    pub fn get(&self) -> StatusView {
        lock(&self.0).clone()
    }
}

pub struct Engine {
    stop: Arc<AtomicBool>,
    thread: Mutex<Option<JoinHandle<()>>>,
    state: Arc<dyn EngineState>,
}

impl Engine {
    /// Start `body` on a named thread; it must return soon after `stop` is set.
    pub fn spawn<S: EngineState + 'static>(name: &str, state: Arc<S>, body: impl FnOnce(Arc<S>, Arc<AtomicBool>) + Send + 'static) -> std::io::Result<Engine> {
        let stop = Arc::new(AtomicBool::new(false));
        let (s2, stop2) = (state.clone(), stop.clone());
        let s3 = state.clone();
        let handle = std::thread::Builder::new().name(name.to_owned()).spawn(move || {
            // A panic in the packet path ends this engine, never the process;
            // the state records it so the summary can say so.
            if let Err(p) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| body(s2, stop2))) {
                let what = p.downcast_ref::<&str>().map(|s| (*s).to_owned()).or_else(|| p.downcast_ref::<String>().cloned());
                s3.status().fail(format!("internal error: the engine thread stopped ({})", what.unwrap_or_else(|| "panic".to_owned())));
            }
        })?;
        Ok(Engine { stop, thread: Mutex::new(Some(handle)), state })
    }

    pub fn snapshot(&self) -> Snapshot {
        self.state.snapshot()
    }

    /// Ask the thread to finish, wait for it, and return the final snapshot.
    pub fn stop(&self) -> Snapshot {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(h) = self.thread.lock().unwrap_or_else(|e| e.into_inner()).take() {
            let _ = h.join();
        }
        self.state.snapshot()
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(h) = self.thread.lock().unwrap_or_else(|e| e.into_inner()).take() {
            let _ = h.join();
        }
    }
}

/// Lock a mutex, recovering the data if a previous holder panicked.
pub fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

pub fn ns_to_ms(ns: f64) -> f64 {
    ns / 1_000_000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_failure_is_kept_and_marks_the_engine_done() {
        let s = Status::default();
        assert_eq!(s.get(), StatusView { done: false, error: None });
        s.fail("ENETDOWN");
        s.fail("a later consequence");
        assert_eq!(s.get(), StatusView { done: true, error: Some("ENETDOWN".into()) });
    }

    #[test]
    fn finishing_is_not_failing() {
        let s = Status::default();
        s.finish();
        assert_eq!(s.get(), StatusView { done: true, error: None });
    }

    struct Panicking(Status);
    impl EngineState for Panicking {
        fn snapshot(&self) -> Snapshot {
            Snapshot::Querier(querier::QuerierSnapshot::default())
        }
        fn status(&self) -> &Status {
            &self.0
        }
    }

    #[test]
    fn a_panicking_engine_thread_is_reported_as_failed() {
        let st = Arc::new(Panicking(Status::default()));
        let e = Engine::spawn("mcast-test", st.clone(), |_, _| panic!("boom")).unwrap_or_else(|e| panic!("{e}"));
        e.stop();
        let v = st.status().get();
        assert!(v.done);
        assert!(v.error.as_deref().is_some_and(|m| m.contains("boom")), "{v:?}");
    }
}
