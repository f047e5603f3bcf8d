//! What running jobs hold: Docker objects (`container:<id>`, `volume:<name>`,
//! `network:<name>`, a compose stack as `stack:<name>`) that two jobs must never stop,
//! read or rewrite at the same time.
//! With several jobs running at once, a job takes all its objects in one step or waits
//! — never some and then the rest — so two jobs cannot wait on each other. Each key
//! knows its holder, so a waiting job can say which job it waits for.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

/// The key of a compose stack (project): held by its compose actions and by backups
/// of the project, so neither creates or removes what the other is working on.
pub fn stack_key(stack: &str) -> String {
    format!("stack:{stack}")
}

#[derive(Debug, Default)]
pub struct Locks {
    /// Key → its holder (`job <id> (<title>)`).
    held: Mutex<BTreeMap<String, String>>,
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
    fn held(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, String>> {
        self.held
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Takes every key at once for `holder`, or none: `Err` names the keys another
    /// job holds, each with its holder.
    pub fn try_take(
        self: &Arc<Self>,
        keys: &[String],
        holder: &str,
    ) -> Result<Held, Vec<(String, String)>> {
        let mut held = self.held();
        let busy: Vec<(String, String)> = keys
            .iter()
            .filter_map(|k| held.get(k).map(|h| (k.clone(), h.clone())))
            .collect();
        if !busy.is_empty() {
            return Err(busy);
        }
        held.extend(keys.iter().map(|k| (k.clone(), holder.to_owned())));
        Ok(Held {
            locks: Arc::clone(self),
            keys: keys.to_vec(),
            waited: false,
        })
    }

    /// Takes every key once no other job holds any of them; `on_wait` is told what is
    /// in the way (key, holder) each time the job has to wait.
    pub async fn take(
        self: &Arc<Self>,
        keys: &[String],
        holder: &str,
        mut on_wait: impl FnMut(&[(String, String)]),
    ) -> Held {
        let mut waited = false;
        loop {
            // Registered before trying, so a release between the try and the wait
            // is not missed.
            let released = self.released.notified();
            tokio::pin!(released);
            released.as_mut().enable();
            match self.try_take(keys, holder) {
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
        let a = l
            .try_take(&keys(&["container:a", "volume:v"]), "job 1")
            .unwrap();
        assert_eq!(
            l.try_take(&keys(&["container:b", "volume:v"]), "job 2")
                .unwrap_err(),
            [("volume:v".to_owned(), "job 1".to_owned())]
        );
        // The refused attempt took nothing: b is still free.
        let b = l.try_take(&keys(&["container:b"]), "job 3").unwrap();
        drop(a);
        assert!(l.try_take(&keys(&["volume:v"]), "job 4").is_ok());
        drop(b);
    }

    #[tokio::test]
    async fn a_waiter_gets_the_keys_when_they_are_released() {
        let l = Arc::new(Locks::default());
        let first = l.try_take(&keys(&["container:a"]), "job 1").unwrap();
        let l2 = Arc::clone(&l);
        let (tx, rx) = tokio::sync::oneshot::channel();
        let waiter = tokio::spawn(async move {
            let mut tx = Some(tx);
            let h = l2
                .take(&keys(&["container:a"]), "job 2", |busy| {
                    if let Some(tx) = tx.take() {
                        let _ = tx.send(busy.to_vec());
                    }
                })
                .await;
            h.waited
        });
        assert_eq!(
            rx.await.unwrap(),
            [("container:a".to_owned(), "job 1".to_owned())],
            "it waited, and knows for whom"
        );
        drop(first);
        assert!(waiter.await.unwrap(), "and says so");
        assert!(l.try_take(&keys(&["container:a"]), "job 3").is_ok());
    }
}
