//! Ctrl-C (and SIGTERM) for the commands that own a private PostgreSQL cluster.
//!
//! The handler is installed once and stays installed: tokio never restores the default action,
//! so a second Ctrl-C no longer kills the process halfway through stopping the cluster. What a
//! second signal does instead is the caller's (`up` stops the cluster at once and exits).

use tokio::signal::unix::{Signal, SignalKind, signal};

pub struct Interrupts {
    int: Signal,
    term: Signal,
}

impl Interrupts {
    /// Installs the handlers; from now on Ctrl-C only does what the caller waits for.
    pub fn install() -> anyhow::Result<Self> {
        Ok(Self {
            int: signal(SignalKind::interrupt())?,
            term: signal(SignalKind::terminate())?,
        })
    }

    /// Resolves on the next Ctrl-C or SIGTERM.
    pub async fn next(&mut self) {
        tokio::select! {
            _ = self.int.recv() => {},
            _ = self.term.recv() => {},
        }
    }
}
