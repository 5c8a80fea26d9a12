//! Micro-batching: callers hand in one item each and await their own answer, while a worker
//! takes every item waiting at that moment and handles them together (one query, one commit).
//! Under load the batches grow by themselves; alone, an item goes through at once.
//!
//! The queue is bounded, and waiting in it is too, so that under overload the service sheds what
//! it cannot do in time (answered [`Error::Unavailable`]: 503 with `Retry-After`, nothing was
//! done) instead of making everyone wait longer:
//! - a full queue refuses a new item at once;
//! - while a queue stands (a worker took a full batch: more came than it keeps up with), items
//!   that already waited longer than [`QueueLimits::target`] are shed when taken, so what is
//!   handled stays fast; a short burst (one slow commit) sheds nothing;
//! - whatever happens, a caller whose item was not taken within [`QueueLimits::wait`] gets 503.
//!
//! An item once taken is always answered by its batch (a payment may be committed by then, so
//! giving up on it would tell the caller "nothing happened" wrongly).

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::{Mutex, mpsc, oneshot};

use crate::error::{Error, Result};

/// How many items may wait and for how long.
#[derive(Debug, Clone, Copy)]
pub struct QueueLimits {
    /// Items waiting at most; one more is refused at once.
    pub capacity: usize,
    /// While the queue stands, items that waited longer than this are shed.
    pub target: Duration,
    /// The longest an item waits to be taken into a batch, in any case.
    pub wait: Duration,
}

impl Default for QueueLimits {
    /// 1024 items per queue; a target of 20 ms (with the batch itself, a payment is answered
    /// within about 50 ms); 2000 ms waiting at most.
    fn default() -> Self {
        Self {
            capacity: 1024,
            target: Duration::from_millis(20),
            wait: Duration::from_millis(2000),
        }
    }
}

/// Where an item is: still queued, taken into a batch, withdrawn by its caller at its deadline,
/// or shed by the worker. Exactly one of the worker and the caller moves it away from `QUEUED`.
const QUEUED: u8 = 0;
const TAKEN: u8 = 1;
const WITHDRAWN: u8 = 2;
const SHED: u8 = 3;

struct Job<T, R> {
    item: T,
    reply: oneshot::Sender<R>,
    state: Arc<AtomicU8>,
    queued_at: Instant,
}

/// The sending side; cheap to clone.
pub struct Batcher<T, R> {
    tx: mpsc::Sender<Job<T, R>>,
    name: &'static str,
    wait: Duration,
}

impl<T, R> Clone for Batcher<T, R> {
    fn clone(&self) -> Self {
        Self {
            tx: self.tx.clone(),
            name: self.name,
            wait: self.wait,
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
    pub fn spawn<F, Fut>(
        name: &'static str,
        workers: usize,
        max_batch: usize,
        limits: QueueLimits,
        handle: F,
    ) -> Self
    where
        F: Fn(Vec<T>) -> Fut + Clone + Send + Sync + 'static,
        Fut: Future<Output = Vec<R>> + Send,
    {
        let (tx, rx) = mpsc::channel::<Job<T, R>>(limits.capacity.max(1));
        let rx = Arc::new(Mutex::new(rx));
        for _ in 0..workers.max(1) {
            let worker = FnWorker(handle.clone());
            let batches = Batches {
                name,
                max: max_batch,
                linger: None,
                target: limits.target,
            };
            tokio::spawn(work(batches, rx.clone(), worker));
        }
        Self {
            tx,
            name,
            wait: limits.wait,
        }
    }

    /// Starts one task that hands up to `max_batch` items at a time to `worker`, and lets it
    /// [rest](BatchWorker::rest) once the queue has stayed empty for `linger`.
    pub fn spawn_worker<W: BatchWorker<T, R>>(
        name: &'static str,
        max_batch: usize,
        linger: Duration,
        limits: QueueLimits,
        worker: W,
    ) -> Self {
        let (tx, rx) = mpsc::channel::<Job<T, R>>(limits.capacity.max(1));
        let rx = Arc::new(Mutex::new(rx));
        let batches = Batches {
            name,
            max: max_batch,
            linger: Some(linger),
            target: limits.target,
        };
        tokio::spawn(work(batches, rx, worker));
        Self {
            tx,
            name,
            wait: limits.wait,
        }
    }

    /// Hands in one item and waits for its answer. A full queue, or an item not taken into a
    /// batch within the queue's wait, is [`Error::Unavailable`]: it was not handled.
    pub async fn call(&self, item: T) -> Result<R> {
        let (reply, answer) = oneshot::channel();
        let closed = || Error::Internal(anyhow::anyhow!("the {} batcher stopped", self.name));
        let state = Arc::new(AtomicU8::new(QUEUED));
        let job = Job {
            item,
            reply,
            state: state.clone(),
            queued_at: Instant::now(),
        };
        match self.tx.try_send(job) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => return Err(self.shed("full")),
            Err(TrySendError::Closed(_)) => return Err(closed()),
        }
        let mut answer = std::pin::pin!(answer);
        let answered = match tokio::time::timeout(self.wait, &mut answer).await {
            Ok(answered) => answered,
            Err(_) => {
                let withdrawn = state
                    .compare_exchange(QUEUED, WITHDRAWN, Ordering::AcqRel, Ordering::Acquire)
                    .is_ok();
                if withdrawn {
                    return Err(self.shed("late"));
                }
                // Taken into a batch meanwhile (or shed): the batch answers.
                answer.await
            }
        };
        answered.map_err(|_| {
            if state.load(Ordering::Acquire) == SHED {
                self.shed("standing")
            } else {
                closed()
            }
        })
    }

    fn shed(&self, why: &'static str) -> Error {
        metrics::counter!("coinsence_batch_shed_total", "batch" => self.name, "why" => why)
            .increment(1);
        Error::Unavailable {
            retry_after_secs: 1,
        }
    }
}

/// How a worker takes its batches.
struct Batches {
    name: &'static str,
    max: usize,
    linger: Option<Duration>,
    target: Duration,
}

/// One worker's loop: take every item waiting (up to `max`), handle them, answer each.
async fn work<T, R, W: BatchWorker<T, R>>(
    batches: Batches,
    rx: Arc<Mutex<mpsc::Receiver<Job<T, R>>>>,
    mut worker: W,
) {
    let Batches {
        name,
        max,
        linger,
        target,
    } = batches;
    let mut jobs = Vec::with_capacity(max);
    loop {
        let received = {
            let mut rx = rx.lock().await;
            match linger {
                Some(linger) => {
                    match tokio::time::timeout(linger, rx.recv_many(&mut jobs, max)).await {
                        Ok(n) => n,
                        Err(_) => {
                            worker.rest().await;
                            rx.recv_many(&mut jobs, max).await
                        }
                    }
                }
                None => rx.recv_many(&mut jobs, max).await,
            }
        };
        if received == 0 {
            worker.rest().await;
            return;
        }
        // A full batch means more came than this worker keeps up with: the queue stands, and
        // items that already waited past the target are shed rather than made later still.
        let standing = received == max;
        let (items, replies): (Vec<T>, Vec<_>) = jobs
            .drain(..)
            .filter(|job| take(job, standing && job.queued_at.elapsed() > target))
            .map(|job| (job.item, job.reply))
            .unzip();
        if items.is_empty() {
            continue;
        }
        metrics::histogram!("coinsence_batch_size", "batch" => name).record(items.len() as f64);
        let answers = worker.handle(items).await;
        for (reply, answer) in replies.into_iter().zip(answers) {
            // A caller that went away (a dropped request) needs no answer.
            let _ = reply.send(answer);
        }
        worker.answered().await;
    }
}

/// Whether the worker handles this job: not if its caller gave up already (it was answered),
/// nor if it is to be shed (its caller is answered when its reply is dropped).
fn take<T, R>(job: &Job<T, R>, shed: bool) -> bool {
    let to = if shed { SHED } else { TAKEN };
    let moved = job
        .state
        .compare_exchange(QUEUED, to, Ordering::AcqRel, Ordering::Acquire)
        .is_ok();
    moved && !shed
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A batcher whose worker is stuck until `release` is sent to.
    fn stuck(limits: QueueLimits) -> (Batcher<u32, u32>, tokio::sync::watch::Sender<bool>) {
        let (release, released) = tokio::sync::watch::channel(false);
        let batcher = Batcher::spawn("test", 1, 1, limits, move |items: Vec<u32>| {
            let mut released = released.clone();
            async move {
                let _ = released.wait_for(|r| *r).await;
                items
            }
        });
        (batcher, release)
    }

    #[tokio::test]
    async fn a_full_queue_sheds_at_once_and_a_late_item_at_its_deadline() {
        let limits = QueueLimits {
            capacity: 1,
            target: Duration::from_millis(10),
            wait: Duration::from_millis(100),
        };
        let (batcher, release) = stuck(limits);
        // The first item is taken and blocks the worker; the second waits in the queue.
        let first = tokio::spawn({
            let b = batcher.clone();
            async move { b.call(1).await }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        let second = tokio::spawn({
            let b = batcher.clone();
            async move { b.call(2).await }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        // The queue (capacity 1) is full: refused at once.
        let started = std::time::Instant::now();
        let third = batcher.call(3).await;
        assert!(matches!(third, Err(Error::Unavailable { .. })), "{third:?}");
        assert!(started.elapsed() < Duration::from_millis(50));
        // The waiting one gives up at its deadline and is never handled.
        let second = second.await.unwrap();
        assert!(
            matches!(second, Err(Error::Unavailable { .. })),
            "{second:?}"
        );
        // The one taken before its deadline gets its answer, however long its batch took.
        let _ = release.send(true);
        let first = first.await.unwrap();
        assert_eq!(first.ok(), Some(1));
        assert_eq!(batcher.call(4).await.ok(), Some(4));
    }

    #[tokio::test]
    async fn a_standing_queue_sheds_what_waited_past_the_target_and_nothing_else() {
        let limits = QueueLimits {
            capacity: 100,
            target: Duration::from_millis(10),
            wait: Duration::from_secs(5),
        };
        // Each batch of at most two takes 30 ms: ten items at once are more than it keeps up with.
        let batcher = Batcher::spawn("test", 1, 2, limits, |items: Vec<u32>| async move {
            tokio::time::sleep(Duration::from_millis(30)).await;
            items
        });
        let started = std::time::Instant::now();
        let answers = futures::future::join_all((0..10).map(|i| {
            let b = batcher.clone();
            async move { b.call(i).await }
        }))
        .await;
        let shed = answers
            .iter()
            .filter(|a| matches!(a, Err(Error::Unavailable { .. })))
            .count();
        assert_eq!(answers[0].as_ref().ok(), Some(&0), "{answers:?}");
        assert_eq!(answers[1].as_ref().ok(), Some(&1), "{answers:?}");
        assert!(shed >= 6, "{answers:?}");
        assert!(started.elapsed() < Duration::from_millis(500));
        // Alone, nothing is shed however long the batch takes.
        assert_eq!(batcher.call(42).await.ok(), Some(42));
    }
}
