//! Micro-batching: callers hand in one item each and await their own answer, while a worker
//! takes every item waiting at that moment and handles them together (one query, one commit).
//! Under load the batches grow by themselves; alone, an item goes through at once.

use std::future::Future;
use std::sync::Arc;

use tokio::sync::{Mutex, mpsc, oneshot};

use crate::error::{Error, Result};

type Job<T, R> = (T, oneshot::Sender<R>);

/// The sending side; cheap to clone.
pub struct Batcher<T, R> {
    tx: mpsc::UnboundedSender<Job<T, R>>,
    name: &'static str,
}

impl<T, R> Clone for Batcher<T, R> {
    fn clone(&self) -> Self {
        Self {
            tx: self.tx.clone(),
            name: self.name,
        }
    }
}

impl<T: Send + 'static, R: Send + 'static> Batcher<T, R> {
    /// Starts `workers` tasks sharing one queue; each hands up to `max_batch` items to `handle`,
    /// which must answer one `R` per item, in order. The tasks end when every sender is gone.
    pub fn spawn<F, Fut>(name: &'static str, workers: usize, max_batch: usize, handle: F) -> Self
    where
        F: Fn(Vec<T>) -> Fut + Clone + Send + Sync + 'static,
        Fut: Future<Output = Vec<R>> + Send,
    {
        let (tx, rx) = mpsc::unbounded_channel::<Job<T, R>>();
        let rx = Arc::new(Mutex::new(rx));
        for _ in 0..workers.max(1) {
            let (rx, handle) = (rx.clone(), handle.clone());
            tokio::spawn(async move {
                let mut jobs = Vec::with_capacity(max_batch);
                loop {
                    if rx.lock().await.recv_many(&mut jobs, max_batch).await == 0 {
                        return;
                    }
                    let (items, replies): (Vec<T>, Vec<_>) = jobs.drain(..).unzip();
                    metrics::histogram!("coinsence_batch_size", "batch" => name)
                        .record(items.len() as f64);
                    let answers = handle(items).await;
                    for (reply, answer) in replies.into_iter().zip(answers) {
                        // A caller that went away (a dropped request) needs no answer.
                        let _ = reply.send(answer);
                    }
                }
            });
        }
        Self { tx, name }
    }

    /// Hands in one item and waits for its answer.
    pub async fn call(&self, item: T) -> Result<R> {
        let (reply, answer) = oneshot::channel();
        let closed = || Error::Internal(anyhow::anyhow!("the {} batcher stopped", self.name));
        self.tx.send((item, reply)).map_err(|_| closed())?;
        answer.await.map_err(|_| closed())
    }
}
