//! Deadlocks: calls that can never move again because each waits, through a cycle, on
//! another that waits too. Two thread-pool services calling each other fill both pools with
//! calls that wait on answers, while the calls that would answer them queue for a thread:
//! nothing runs, CPU drops to zero, and without this check the report would blame arrivals.
//!
//! Each kind says what holds its calls up ([`super::Component::waits`]: a service's full
//! instances, the calls queued for them, its calls waiting on downstream answers; a proxy's
//! forwarded requests); this module only combines those views into a wait-for graph over the
//! live calls and finds its greatest set of calls that can never move. It knows no kind.
//!
//! A call is *stuck* when it is queued at a full instance all of whose threads are held by
//! stuck calls, or when it waits only on answers and every call it awaits is stuck. The
//! stuck set is the greatest such set: start from every listed call and release, until
//! nothing changes, each that something outside the set can move (a call it awaits that is
//! working, in transit or already answered; an instance with a thread held by a call that
//! is not stuck). What remains has no event of its own pending and waits only on itself, so
//! it waits forever (short of a command: kill an instance, and its calls fail). A call with a
//! deadline is never listed, so a timeout always breaks a cycle. Costs O(live calls) with a
//! few allocations, and only when some instance is full of waiting calls.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use super::{Call, CallId, Waits};
use crate::engine::Slab;
use crate::topology::NodeId;

/// One deadlock: a cycle of components whose calls wait on each other.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deadlock {
    /// The components of the cycle in call order: each waits on the next, the last on the
    /// first. It starts at the lowest node id among those whose threads all wait.
    pub cycle: Vec<NodeId>,
    /// Other components of the same knot of cycles, not on `cycle` itself.
    pub also: Vec<NodeId>,
    /// Per component of the cycle whose threads all wait: (node, instances full of waiting
    /// calls, threads per instance).
    pub blocked: Vec<(NodeId, u32, u32)>,
}

/// What the check found: the deadlocks, and every node party to a stuck call.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Deadlocks {
    /// One per knot of cycles, in node order.
    pub found: Vec<Deadlock>,
    /// Nodes handling a stuck call, and the workloads awaiting a stuck request, sorted.
    pub involved: Vec<NodeId>,
    /// Calls that can never finish: in the cycles, or queued and waiting behind them.
    pub stuck_calls: u64,
}

/// What the check knows of a listed call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Not listed by its kind: it moves on by itself.
    Moving,
    /// Queued for a thread of full instance `i` (index into the instances).
    Queued(usize),
    /// Waits on answers: `awaited[from..to]`.
    OnAnswers(usize, usize),
}

/// Find the deadlocks among `calls`, given each node's [`Waits`] (index = node id).
pub fn find(calls: &Slab<Call>, waits: &[Waits]) -> Deadlocks {
    let slots = calls.capacity();
    let slot = |id: CallId| id.index() as usize;
    let live = |id: CallId| calls.get(id).filter(|c| c.delivered && c.outcome.is_none());
    // Full instances, by (node, replica).
    let mut instances: Vec<(NodeId, u32, u32)> = Vec::new();
    let mut instance_of: BTreeMap<(NodeId, u32), usize> = BTreeMap::new();
    for (node, w) in waits.iter().enumerate() {
        for &(replica, units) in &w.full {
            instance_of.insert((node as NodeId, replica), instances.len());
            instances.push((node as NodeId, replica, units));
        }
    }
    if instances.is_empty() {
        return Deadlocks::default();
    }
    let mut state = vec![State::Moving; slots];
    let mut awaited: Vec<CallId> = Vec::new();
    // The call awaiting each call, by slot.
    let mut awaited_by: Vec<Option<CallId>> = vec![None; slots];
    let mut queued: Vec<Vec<CallId>> = vec![Vec::new(); instances.len()];
    for (node, w) in waits.iter().enumerate() {
        for &(id, replica) in &w.queued {
            if let (Some(c), Some(&i)) = (live(id), instance_of.get(&(node as NodeId, replica)))
                && c.callee as usize == node
                && let Some(s) = state.get_mut(slot(id))
            {
                *s = State::Queued(i);
                queued[i].push(id);
            }
        }
        for (id, children) in &w.on_answers {
            if live(*id).is_none_or(|c| c.callee as usize != node) {
                continue;
            }
            let from = awaited.len();
            awaited.extend(children);
            if let Some(s) = state.get_mut(slot(*id)) {
                *s = State::OnAnswers(from, awaited.len());
            }
            for c in children {
                if let Some(a) = awaited_by.get_mut(slot(*c)) {
                    *a = Some(*id);
                }
            }
        }
    }
    // Thread holders of the full instances.
    let mut holders: Vec<Vec<CallId>> = vec![Vec::new(); instances.len()];
    for (id, c) in calls.iter() {
        if c.holds_capacity
            && let Some(&i) = instance_of.get(&(c.callee, c.replica))
        {
            holders[i].push(id);
        }
    }
    // Greatest fixpoint: everything listed is stuck until released.
    let mut stuck: Vec<bool> = state.iter().map(|s| *s != State::Moving).collect();
    let mut blocked = vec![true; instances.len()];
    let mut release: VecDeque<CallId> = VecDeque::new();
    let is_stuck = |stuck: &[bool], id: CallId| stuck.get(slot(id)).copied().unwrap_or(false);
    for (i, hs) in holders.iter().enumerate() {
        if hs.iter().any(|h| !is_stuck(&stuck, *h)) {
            blocked[i] = false;
            release.extend(queued[i].iter().copied());
        }
    }
    for (id, _) in calls.iter() {
        if let Some(State::OnAnswers(from, to)) = state.get(slot(id)).copied()
            && (from == to || awaited[from..to].iter().any(|a| !is_stuck(&stuck, *a)))
        {
            release.push_back(id);
        }
    }
    while let Some(id) = release.pop_front() {
        let Some(s) = stuck.get_mut(slot(id)).filter(|s| **s) else {
            continue;
        };
        *s = false;
        if let Some(parent) = awaited_by.get(slot(id)).copied().flatten()
            && calls.get(id).is_some_and(|c| c.parent == Some(parent))
        {
            release.push_back(parent);
        }
        if let Some(c) = calls.get(id)
            && c.holds_capacity
            && let Some(&i) = instance_of.get(&(c.callee, c.replica))
            && std::mem::replace(&mut blocked[i], false)
        {
            release.extend(queued[i].iter().copied());
        }
    }
    if !blocked.iter().any(|b| *b) {
        return Deadlocks::default();
    }
    // The graph between components: a stuck call waiting on answers points at the
    // components handling the stuck calls it awaits.
    let mut edges: BTreeSet<(NodeId, NodeId)> = BTreeSet::new();
    let mut involved: BTreeSet<NodeId> = BTreeSet::new();
    let mut stuck_calls = 0u64;
    for (id, c) in calls.iter() {
        if !is_stuck(&stuck, id) {
            continue;
        }
        stuck_calls += 1;
        involved.insert(c.callee);
        if c.parent.is_none() {
            involved.insert(c.caller);
        }
        if let Some(State::OnAnswers(from, to)) = state.get(slot(id)).copied() {
            for a in &awaited[from..to] {
                if let Some(child) = calls.get(*a) {
                    edges.insert((c.callee, child.callee));
                }
            }
        }
    }
    let mut full_per_node: BTreeMap<NodeId, (u32, u32)> = BTreeMap::new();
    for (i, &(node, _, units)) in instances.iter().enumerate() {
        if blocked[i] {
            let e = full_per_node.entry(node).or_insert((0, units));
            e.0 += 1;
        }
    }
    let found = knots(&edges)
        .into_iter()
        .filter_map(|knot| {
            let start = *knot.iter().find(|n| full_per_node.contains_key(n))?;
            let cycle = shortest_cycle(&edges, &knot, start)?;
            let also = knot
                .iter()
                .filter(|n| !cycle.contains(n))
                .copied()
                .collect();
            let blocked = cycle
                .iter()
                .filter_map(|n| full_per_node.get(n).map(|&(k, units)| (*n, k, units)))
                .collect();
            Some(Deadlock {
                cycle,
                also,
                blocked,
            })
        })
        .collect();
    Deadlocks {
        found,
        involved: involved.into_iter().collect(),
        stuck_calls,
    }
}

/// The strongly connected sets of nodes of `edges` that hold a cycle (two nodes or more, or
/// one calling itself), each sorted, in order of their lowest node.
fn knots(edges: &BTreeSet<(NodeId, NodeId)>) -> Vec<BTreeSet<NodeId>> {
    let nodes: BTreeSet<NodeId> = edges.iter().flat_map(|&(a, b)| [a, b]).collect();
    let reach = |from: NodeId, forward: bool| {
        let mut seen = BTreeSet::from([from]);
        let mut stack = vec![from];
        while let Some(n) = stack.pop() {
            for &(a, b) in edges {
                let (x, y) = if forward { (a, b) } else { (b, a) };
                if x == n && seen.insert(y) {
                    stack.push(y);
                }
            }
        }
        seen
    };
    let mut done: BTreeSet<NodeId> = BTreeSet::new();
    let mut out = Vec::new();
    for &n in &nodes {
        if done.contains(&n) {
            continue;
        }
        let knot: BTreeSet<NodeId> = reach(n, true)
            .intersection(&reach(n, false))
            .copied()
            .collect();
        done.extend(&knot);
        if knot.len() > 1 || edges.contains(&(n, n)) {
            out.push(knot);
        }
    }
    out
}

/// The shortest cycle through `start` inside `knot`, as its nodes in order from `start`.
fn shortest_cycle(
    edges: &BTreeSet<(NodeId, NodeId)>,
    knot: &BTreeSet<NodeId>,
    start: NodeId,
) -> Option<Vec<NodeId>> {
    let mut parent: BTreeMap<NodeId, NodeId> = BTreeMap::new();
    let mut queue = VecDeque::from([start]);
    while let Some(n) = queue.pop_front() {
        for &(_, b) in edges.range((n, 0)..=(n, NodeId::MAX)) {
            if !knot.contains(&b) {
                continue;
            }
            if b == start {
                let mut path = vec![n];
                let mut k = n;
                while k != start {
                    k = *parent.get(&k)?;
                    path.push(k);
                }
                path.reverse();
                return Some(path);
            }
            if let std::collections::btree_map::Entry::Vacant(e) = parent.entry(b) {
                e.insert(n);
                queue.push_back(b);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn knots_and_cycles_follow_the_edges() {
        let edges: BTreeSet<(NodeId, NodeId)> =
            [(1, 2), (2, 1), (2, 3), (3, 4), (4, 4), (5, 1)].into();
        let k = knots(&edges);
        assert_eq!(k, vec![BTreeSet::from([1, 2]), BTreeSet::from([4])]);
        assert_eq!(shortest_cycle(&edges, &k[0], 1), Some(vec![1, 2]));
        assert_eq!(shortest_cycle(&edges, &k[1], 4), Some(vec![4]));
        let ring: BTreeSet<(NodeId, NodeId)> = [(3, 1), (1, 2), (2, 3), (2, 1)].into();
        let k = knots(&ring);
        assert_eq!(k, vec![BTreeSet::from([1, 2, 3])]);
        assert_eq!(shortest_cycle(&ring, &k[0], 1), Some(vec![1, 2]));
    }
}
