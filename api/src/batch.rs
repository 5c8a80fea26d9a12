//! Micro-batching: callers hand in one item each and await their own answer, while a worker
//! takes every item waiting at that moment and handles them together (one query, one commit).
//! Under load the batches grow by themselves; alone, an item goes through at once.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

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

/// A worker that keeps something of its own between batches (a held connection, say).
pub trait BatchWorker<T, R>: Send + 'static {
    /// Answers one `R` per item, in order.
    fn handle(&mut self, items: Vec<T>) -> impl Future<Output = Vec<R>> + Send;

    /// Called once no item has come for the batcher's `linger` after a batch.
    fn rest(&mut self) -> impl Future<Output = ()> + Send {
        async {}
    }

    /// Called after each batch, once its answers are sent.
    fn answered(&mut self) -> impl Future<Output = ()> + Send {
        async {}
    }
}

/// A stateless worker: a function of the batch.
struct FnWorker<F>(F);

impl<T, R, F, Fut> BatchWorker<T, R> for FnWorker<F>
where
    T: Send + 'static,
    F: Fn(Vec<T>) -> Fut + Send + 'static,
    Fut: Future<Output = Vec<R>> + Send,
{
    fn handle(&mut self, items: Vec<T>) -> impl Future<Output = Vec<R>> + Send {
        (self.0)(items)
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
            let worker = FnWorker(handle.clone());
            tokio::spawn(work(name, rx.clone(), max_batch, None, worker));
        }
        Self { tx, name }
    }

    /// Starts one task that hands up to `max_batch` items at a time to `worker`, and lets it
    /// [rest](BatchWorker::rest) once the queue has stayed empty for `linger`.
    pub fn spawn_worker<W: BatchWorker<T, R>>(
        name: &'static str,
        max_batch: usize,
        linger: Duration,
        worker: W,
    ) -> Self {
        let (tx, rx) = mpsc::unbounded_channel::<Job<T, R>>();
        let rx = Arc::new(Mutex::new(rx));
        tokio::spawn(work(name, rx, max_batch, Some(linger), worker));
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

/// One worker's loop: take every item waiting (up to `max_batch`), handle them, answer each.
async fn work<T, R, W: BatchWorker<T, R>>(
    name: &'static str,
    rx: Arc<Mutex<mpsc::UnboundedReceiver<Job<T, R>>>>,
    max_batch: usize,
    linger: Option<Duration>,
    mut worker: W,
) {
    let mut jobs = Vec::with_capacity(max_batch);
    loop {
        let received = {
            let mut rx = rx.lock().await;
            match linger {
                Some(linger) => {
                    match tokio::time::timeout(linger, rx.recv_many(&mut jobs, max_batch)).await {
                        Ok(n) => n,
                        Err(_) => {
                            worker.rest().await;
                            rx.recv_many(&mut jobs, max_batch).await
                        }
                    }
                }
                None => rx.recv_many(&mut jobs, max_batch).await,
            }
        };
        if received == 0 {
            worker.rest().await;
            return;
        }
        let (items, replies): (Vec<T>, Vec<_>) = jobs.drain(..).unzip();
        metrics::histogram!("coinsence_batch_size", "batch" => name).record(items.len() as f64);
        let answers = worker.handle(items).await;
        for (reply, answer) in replies.into_iter().zip(answers) {
            // A caller that went away (a dropped request) needs no answer.
            let _ = reply.send(answer);
        }
        worker.answered().await;
    }
}
