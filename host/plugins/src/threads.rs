//! The threads plugin code runs on: a small tokio runtime of its own, so guest code
//! (Cranelift-compiled, bounded by epochs but still CPU work) never occupies the
//! workers that serve WebSockets and HTTP.

use std::future::Future;

use tokio::runtime::Handle;

/// Worker threads for plugin calls; backups stream through one plugin at a time, and
/// a second thread keeps a slow call from delaying a health check.
const WORKERS: usize = 2;

#[derive(Debug, Clone)]
pub struct PluginThreads {
    handle: Handle,
}

impl PluginThreads {
    /// Starts the runtime on a thread that keeps it for the life of the process (a
    /// runtime may not be dropped from async code, and it is never done with).
    pub fn start() -> Self {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::Builder::new()
            .name("berth-plugins".into())
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(WORKERS)
                    .thread_name("berth-plugin")
                    .enable_all()
                    .build()
                    .expect("plugin runtime");
                let _ = tx.send(rt.handle().clone());
                rt.block_on(std::future::pending::<()>());
            })
            .expect("spawn the plugin thread");
        Self {
            handle: rx.recv().expect("plugin runtime handle"),
        }
    }

    /// Runs `fut` on the plugin threads.
    pub fn spawn<F>(&self, fut: F) -> tokio::task::JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.handle.spawn(fut)
    }
}
