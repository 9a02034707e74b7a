//! The order runs start in: first in, first out within a tenant, round robin across
//! tenants that have runs waiting, bounded by the global and per-tenant concurrency.
//!
//! Pure bookkeeping, no I/O: the runner asks [`Queue::pop`] for the next run whenever a
//! slot may have opened, and calls [`Queue::done`] when a run ends.

use std::collections::{HashMap, VecDeque};

/// A tenant's budget.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    pub max_running: usize,
    pub max_queued: usize,
}

#[derive(Debug)]
struct Lane<T> {
    waiting: VecDeque<(String, T)>,
    running: usize,
    budget: Budget,
}

/// Waiting runs (`T` carries what starting one needs), keyed by run id.
#[derive(Debug)]
pub struct Queue<T> {
    lanes: HashMap<String, Lane<T>>,
    /// Tenants with runs waiting, in the order they get their next turn.
    turns: VecDeque<String>,
    running: usize,
    max_running: usize,
}

/// The tenant already has its maximum of waiting runs.
#[derive(Debug, PartialEq, Eq)]
pub struct Full {
    pub max_queued: usize,
}

impl<T> Queue<T> {
    pub fn new(max_running: usize) -> Self {
        Queue {
            lanes: HashMap::new(),
            turns: VecDeque::new(),
            running: 0,
            max_running,
        }
    }

    /// Adds a run at the end of its tenant's lane.
    pub fn push(&mut self, tenant: &str, budget: Budget, id: String, item: T) -> Result<(), Full> {
        let lane = self.lanes.entry(tenant.to_owned()).or_insert_with(|| Lane {
            waiting: VecDeque::new(),
            running: 0,
            budget,
        });
        if lane.waiting.len() >= budget.max_queued {
            return Err(Full {
                max_queued: budget.max_queued,
            });
        }
        if lane.waiting.is_empty() {
            self.turns.push_back(tenant.to_owned());
        }
        lane.waiting.push_back((id, item));
        Ok(())
    }

    /// The next run to start, if a slot is free: the oldest run of the first tenant in
    /// turn that is below its own bound. That tenant goes to the back of the turns.
    pub fn pop(&mut self) -> Option<(String, String, T)> {
        if self.running >= self.max_running {
            return None;
        }
        let pos = self.turns.iter().position(|t| {
            self.lanes
                .get(t)
                .is_some_and(|l| l.running < l.budget.max_running)
        })?;
        let tenant = self.turns.remove(pos)?;
        let lane = self.lanes.get_mut(&tenant)?;
        let (id, item) = lane.waiting.pop_front()?;
        lane.running += 1;
        self.running += 1;
        if !lane.waiting.is_empty() {
            self.turns.push_back(tenant.clone());
        }
        Some((tenant, id, item))
    }

    /// A run started by [`Queue::pop`] has ended.
    pub fn done(&mut self, tenant: &str) {
        self.running = self.running.saturating_sub(1);
        if let Some(lane) = self.lanes.get_mut(tenant) {
            lane.running = lane.running.saturating_sub(1);
        }
    }

    /// Takes a waiting run out of the queue (it was cancelled before it started).
    pub fn remove(&mut self, tenant: &str, id: &str) -> Option<T> {
        let lane = self.lanes.get_mut(tenant)?;
        let pos = lane.waiting.iter().position(|(i, _)| i == id)?;
        let (_, item) = lane.waiting.remove(pos)?;
        if lane.waiting.is_empty() {
            self.turns.retain(|t| t != tenant);
        }
        Some(item)
    }

    /// Runs of this tenant waiting now.
    pub fn waiting(&self, tenant: &str) -> usize {
        self.lanes.get(tenant).map_or(0, |l| l.waiting.len())
    }

    /// Runs running now, over all tenants.
    #[cfg(test)]
    pub fn running(&self) -> usize {
        self.running
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WIDE: Budget = Budget {
        max_running: 10,
        max_queued: 100,
    };

    fn start_all(q: &mut Queue<()>) -> Vec<String> {
        std::iter::from_fn(|| q.pop().map(|(_, id, ())| id)).collect()
    }

    #[test]
    fn tenants_take_turns_and_each_keeps_its_order() {
        let mut q = Queue::new(100);
        for i in 0..3 {
            q.push("alice", WIDE, format!("a{i}"), ()).unwrap();
        }
        q.push("bob", WIDE, "b0".into(), ()).unwrap();
        q.push("bob", WIDE, "b1".into(), ()).unwrap();
        q.push("carol", WIDE, "c0".into(), ()).unwrap();
        assert_eq!(start_all(&mut q), ["a0", "b0", "c0", "a1", "b1", "a2"]);
    }

    #[test]
    fn a_busy_tenant_does_not_hold_up_others() {
        let mut q = Queue::new(100);
        let narrow = Budget {
            max_running: 1,
            max_queued: 100,
        };
        for i in 0..3 {
            q.push("alice", narrow, format!("a{i}"), ()).unwrap();
        }
        q.push("bob", WIDE, "b0".into(), ()).unwrap();
        q.push("bob", WIDE, "b1".into(), ()).unwrap();
        assert_eq!(start_all(&mut q), ["a0", "b0", "b1"]);
        q.done("alice");
        assert_eq!(start_all(&mut q), ["a1"]);
    }

    #[test]
    fn the_global_bound_holds() {
        let mut q = Queue::new(2);
        for i in 0..4 {
            q.push("alice", WIDE, format!("a{i}"), ()).unwrap();
        }
        assert_eq!(start_all(&mut q), ["a0", "a1"]);
        assert_eq!(q.running(), 2);
        q.done("alice");
        assert_eq!(start_all(&mut q), ["a2"]);
    }

    #[test]
    fn too_many_waiting_is_refused_and_removal_frees_a_place() {
        let mut q = Queue::new(0);
        let small = Budget {
            max_running: 1,
            max_queued: 2,
        };
        q.push("alice", small, "a0".into(), ()).unwrap();
        q.push("alice", small, "a1".into(), ()).unwrap();
        assert_eq!(
            q.push("alice", small, "a2".into(), ()),
            Err(Full { max_queued: 2 })
        );
        assert!(q.remove("alice", "a0").is_some());
        assert!(q.remove("alice", "a0").is_none());
        q.push("alice", small, "a2".into(), ()).unwrap();
    }
}
