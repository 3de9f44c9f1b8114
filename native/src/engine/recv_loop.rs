//! The one receive loop every engine shares: wait for any socket to become
//! readable, then drain it in `recvmmsg` batches (a bounded number per
//! wake-up, so one busy socket cannot starve the others) and hand each batch
//! to the engine.

use std::sync::atomic::{AtomicBool, Ordering};

use crate::net::NetError;
use crate::net::mmsg::RecvBatch;
use crate::net::socket::{Socket, poll_readable};

/// What the engine wants after a batch.
pub enum Flow {
    Continue,
    Stop,
}

/// Batches drained from one socket per wake-up before looking at the others.
const BATCHES_PER_WAKE: usize = 16;
/// How often `stop` is looked at when nothing arrives.
const POLL_MS: i32 = 50;

/// Run until `stop` is set, `on_batch` returns `Flow::Stop`, or a socket
/// fails (the error is returned). `on_batch(socket_index, batch, n)` sees the
/// `n` datagrams just received on that socket.
pub fn drain(sockets: &[&Socket], stop: &AtomicBool, batch: &mut RecvBatch, on_batch: impl FnMut(usize, &RecvBatch, usize) -> Flow) -> Result<(), NetError> {
    drain_ticking(sockets, stop, batch, on_batch, || {})
}

/// `drain`, plus `on_tick()` after every wake-up, data or not (so at least
/// every 50 ms): for work that is due by time rather than by a datagram.
pub fn drain_ticking(
    sockets: &[&Socket],
    stop: &AtomicBool,
    batch: &mut RecvBatch,
    mut on_batch: impl FnMut(usize, &RecvBatch, usize) -> Flow,
    mut on_tick: impl FnMut(),
) -> Result<(), NetError> {
    let fds: Vec<i32> = sockets.iter().map(|s| s.raw_fd()).collect();
    while !stop.load(Ordering::Relaxed) {
        let ready = poll_readable(&fds, POLL_MS)?;
        on_tick();
        for (i, sock) in sockets.iter().enumerate() {
            if !ready.get(i).copied().unwrap_or(false) {
                continue;
            }
            for _ in 0..BATCHES_PER_WAKE {
                let n = batch.recv(sock)?;
                if n == 0 {
                    break;
                }
                if let Flow::Stop = on_batch(i, batch, n) {
                    return Ok(());
                }
                if n < batch.capacity() {
                    break;
                }
            }
        }
    }
    Ok(())
}
