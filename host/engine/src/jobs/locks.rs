//! What running jobs hold: Docker objects (`container:<id>`, `volume:<name>`,
//! `network:<name>`) that two jobs must never stop, read or rewrite at the same time.
//! With several jobs running at once, a job takes all its objects in one step or waits
//! — never some and then the rest — so two jobs cannot wait on each other.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

#[derive(Debug, Default)]
pub struct Locks {
    held: Mutex<BTreeSet<String>>,
    released: Notify,
}

/// Objects held until dropped.
#[derive(Debug)]
pub struct Held {
    locks: Arc<Locks>,
    keys: Vec<String>,
    /// Whether another job held some of them first (what the job saw before may
    /// have changed meanwhile).
    pub waited: bool,
}

impl Locks {
    fn held(&self) -> std::sync::MutexGuard<'_, BTreeSet<String>> {
        self.held
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Takes every key at once, or none: `Err` names the keys another job holds.
    pub fn try_take(self: &Arc<Self>, keys: &[String]) -> Result<Held, Vec<String>> {
        let mut held = self.held();
        let busy: Vec<String> = keys.iter().filter(|k| held.contains(*k)).cloned().collect();
        if !busy.is_empty() {
            return Err(busy);
        }
        held.extend(keys.iter().cloned());
        Ok(Held {
            locks: Arc::clone(self),
            keys: keys.to_vec(),
            waited: false,
        })
    }

    /// Takes every key once no other job holds any of them; `on_wait` is told what is
    /// in the way each time the job has to wait.
    pub async fn take(
        self: &Arc<Self>,
        keys: &[String],
        mut on_wait: impl FnMut(&[String]),
    ) -> Held {
        let mut waited = false;
        loop {
            // Registered before trying, so a release between the try and the wait
            // is not missed.
            let released = self.released.notified();
            tokio::pin!(released);
            released.as_mut().enable();
            match self.try_take(keys) {
                Ok(mut h) => {
                    h.waited = waited;
                    return h;
                }
                Err(busy) => on_wait(&busy),
            }
            waited = true;
            released.await;
        }
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        let mut held = self.locks.held();
        for k in &self.keys {
            held.remove(k);
        }
        drop(held);
        self.locks.released.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(k: &[&str]) -> Vec<String> {
        k.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn all_or_nothing() {
        let l = Arc::new(Locks::default());
        let a = l.try_take(&keys(&["container:a", "volume:v"])).unwrap();
        assert_eq!(
            l.try_take(&keys(&["container:b", "volume:v"])).unwrap_err(),
            keys(&["volume:v"])
        );
        // The refused attempt took nothing: b is still free.
        let b = l.try_take(&keys(&["container:b"])).unwrap();
        drop(a);
        assert!(l.try_take(&keys(&["volume:v"])).is_ok());
        drop(b);
    }

    #[tokio::test]
    async fn a_waiter_gets_the_keys_when_they_are_released() {
        let l = Arc::new(Locks::default());
        let first = l.try_take(&keys(&["container:a"])).unwrap();
        let l2 = Arc::clone(&l);
        let (tx, rx) = tokio::sync::oneshot::channel();
        let waiter = tokio::spawn(async move {
            let mut tx = Some(tx);
            let h = l2
                .take(&keys(&["container:a"]), |busy| {
                    if let Some(tx) = tx.take() {
                        let _ = tx.send(busy.to_vec());
                    }
                })
                .await;
            h.waited
        });
        assert_eq!(rx.await.unwrap(), keys(&["container:a"]), "it waited");
        drop(first);
        assert!(waiter.await.unwrap(), "and says so");
        assert!(l.try_take(&keys(&["container:a"])).is_ok());
    }
}
