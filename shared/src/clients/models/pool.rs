//! The bounded inference pool: model work (embedding, transcription) runs on blocking threads,
//! at most `MODEL_THREADS` at a time, so the async runtime's threads never run a model and a
//! burst of work queues here instead of starving the webhook and the queue.

use std::sync::Arc;

use tokio::sync::Semaphore;

use super::ModelError;

#[derive(Clone, Debug)]
pub struct InferencePool {
    permits: Arc<Semaphore>,
    size: usize,
}

impl InferencePool {
    pub fn new(size: usize) -> Self {
        let size = size.max(1);
        InferencePool { permits: Arc::new(Semaphore::new(size)), size }
    }

    pub fn size(&self) -> usize {
        self.size
    }

    /// Runs `work` on a blocking thread once a slot is free. Waiters are served in order.
    /// A panic inside `work` becomes an error, never a crash of the caller.
    pub async fn run<T, F>(&self, work: F) -> Result<T, ModelError>
    where
        T: Send + 'static,
        F: FnOnce() -> Result<T, ModelError> + Send + 'static,
    {
        let permit = self
            .permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| ModelError::Inference("the inference pool is closed".into()))?;
        let started = std::time::Instant::now();
        let joined = tokio::task::spawn_blocking(move || {
            let out = work();
            drop(permit);
            out
        })
        .await;
        metrics::histogram!("mnemo_inference_seconds").record(started.elapsed().as_secs_f64());
        match joined {
            Ok(out) => out,
            Err(e) if e.is_panic() => {
                let p = e.into_panic();
                let msg = p
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| p.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "unknown panic".into());
                Err(ModelError::Inference(format!("model panicked: {msg}")))
            }
            Err(e) => Err(ModelError::Inference(format!("inference task ended: {e}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn at_most_size_jobs_run_at_once_and_panics_become_errors() {
        let pool = InferencePool::new(2);
        let running = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let jobs: Vec<_> = (0..8)
            .map(|_| {
                let (pool, running, peak) = (pool.clone(), running.clone(), peak.clone());
                tokio::spawn(async move {
                    pool.run(move || {
                        let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                        peak.fetch_max(now, Ordering::SeqCst);
                        std::thread::sleep(std::time::Duration::from_millis(20));
                        running.fetch_sub(1, Ordering::SeqCst);
                        Ok(())
                    })
                    .await
                })
            })
            .collect();
        for j in jobs {
            j.await.unwrap().unwrap();
        }
        assert_eq!(peak.load(Ordering::SeqCst), 2);
        let err = pool.run(|| -> Result<(), ModelError> { panic!("boom") }).await.unwrap_err();
        assert!(err.to_string().contains("boom"), "{err}");
    }
}
