//! Keyed tables against an unbounded reference model: a `HashMap` from key to
//! limiter state that never drops anything.

use std::collections::HashMap;
use std::fmt::Debug;
use std::time::Duration;

use keyrate::keyed::{FixedTable, GrowableTable, KeyedError, Limiter, TableFull};
use keyrate::limit::{
    CompactWindow, FixedWindow, Policy, SlidingWindow, TokenBucket, TokenBucketState,
};
use keyrate::sync::SharedTable;
use keyrate::time::Instant;
use proptest::prelude::*;

type Mixed = Policy<[u64; 4]>;

/// A token bucket: 3 at once, then one every 2 s.
fn bucket() -> TokenBucket {
    TokenBucket::new(3, Duration::from_secs(2)).unwrap()
}

/// One limit of every kind, checked all-or-nothing.
fn mixed() -> Mixed {
    Policy::new()
        .with(
            "sliding",
            SlidingWindow::new(4, Duration::from_secs(10)).unwrap(),
        )
        .unwrap()
        .with(
            "compact",
            CompactWindow::new(6, Duration::from_secs(30)).unwrap(),
        )
        .unwrap()
        .with(
            "bucket",
            TokenBucket::new(3, Duration::from_secs(2)).unwrap(),
        )
        .unwrap()
        .with(
            "fixed",
            FixedWindow::new(5, Duration::from_secs(20)).unwrap(),
        )
        .unwrap()
}

/// The reference: every key keeps its state forever. Like the tables, it
/// judges each request at the latest time seen.
struct Model<L: Limiter> {
    limiter: L,
    states: HashMap<u8, L::State>,
    latest: Instant,
}

impl<L: Limiter> Model<L> {
    fn new(limiter: L) -> Self {
        Model {
            limiter,
            states: HashMap::new(),
            latest: Instant::ZERO,
        }
    }

    fn observe(&mut self, now: Instant) -> Instant {
        self.latest = self.latest.max(now);
        self.latest
    }

    fn check(&mut self, key: u8, now: Instant, cost: u32) -> Result<L::Decision, L::Error> {
        let now = self.observe(now);
        let limiter = &self.limiter;
        let state = self
            .states
            .entry(key)
            .or_insert_with(|| limiter.new_state());
        limiter.check(state, now, cost)
    }
}

/// What the properties need from each kind of table.
trait Table<L: Limiter> {
    fn check(
        &mut self,
        key: u8,
        now: Instant,
        cost: u32,
    ) -> Result<L::Decision, KeyedError<L::Error>>;
    /// The state held for `key`, formatted (policy states have no `PartialEq`).
    fn state(&self, key: u8) -> Option<String>;
    fn len(&self) -> usize;
}

impl<L: Limiter, const N: usize> Table<L> for FixedTable<u8, L, N>
where
    L::State: Debug,
{
    fn check(
        &mut self,
        key: u8,
        now: Instant,
        cost: u32,
    ) -> Result<L::Decision, KeyedError<L::Error>> {
        FixedTable::check(self, &key, now, cost)
    }
    fn state(&self, key: u8) -> Option<String> {
        self.get(&key).map(|s| format!("{s:?}"))
    }
    fn len(&self) -> usize {
        FixedTable::len(self)
    }
}

impl<L: Limiter> Table<L> for GrowableTable<u8, L>
where
    L::State: Debug,
{
    fn check(
        &mut self,
        key: u8,
        now: Instant,
        cost: u32,
    ) -> Result<L::Decision, KeyedError<L::Error>> {
        GrowableTable::check(self, &key, now, cost)
    }
    fn state(&self, key: u8) -> Option<String> {
        self.get(&key).map(|s| format!("{s:?}"))
    }
    fn len(&self) -> usize {
        GrowableTable::len(self)
    }
}

impl<L: Limiter> Table<L> for SharedTable<u8, L>
where
    L::State: Debug + Clone,
{
    fn check(
        &mut self,
        key: u8,
        now: Instant,
        cost: u32,
    ) -> Result<L::Decision, KeyedError<L::Error>> {
        SharedTable::check(self, &key, now, cost)
    }
    fn state(&self, key: u8) -> Option<String> {
        self.get(&key).map(|s| format!("{s:?}"))
    }
    fn len(&self) -> usize {
        SharedTable::len(self)
    }
}

/// One request: a key, a step in time (which may go back) and a cost.
#[derive(Clone, Copy, Debug)]
struct Op {
    key: u8,
    step_ms: i64,
    cost: u32,
}

/// Requests from `keys` keys, with costs up to one above every capacity
/// here (3), and time mostly moving forward by up to 4 s.
fn ops(keys: u8, len: usize) -> impl Strategy<Value = Vec<Op>> {
    let op = (0..keys, -1_500i64..4_000, 0u32..=4).prop_map(|(key, step_ms, cost)| Op {
        key,
        step_ms,
        cost,
    });
    proptest::collection::vec(op, 1..len)
}

fn advance(t: Instant, step_ms: i64) -> Instant {
    let ms = (t.as_nanos() / 1_000_000) as i64 + step_ms;
    Instant::from_millis(ms.max(0) as u64)
}

/// Runs `ops` on `table` and on the model. Every answer must match the
/// model's, except that a table with a bound may refuse a new key as full;
/// then it must hold `capacity` keys, none idle, and change none of them.
fn agrees_with_model<L, T>(limiter: L, table: &mut T, ops: &[Op], keys: u8, capacity: Option<usize>)
where
    L: Limiter + Clone,
    L::Decision: PartialEq + Debug,
    L::Error: PartialEq + Debug,
    L::State: Debug,
    T: Table<L>,
{
    let mut model = Model::new(limiter.clone());
    let mut now = Instant::ZERO;
    for op in ops {
        now = advance(now, op.step_ms);
        let before: Vec<_> = (0..keys).map(|k| table.state(k)).collect();
        let got = table.check(op.key, now, op.cost);

        if let Err(KeyedError::Full(full)) = got {
            let capacity = capacity.expect("a table without a bound refused a key");
            assert_eq!(full, TableFull { capacity });
            assert_eq!(table.len(), capacity);
            assert!(
                before[usize::from(op.key)].is_none(),
                "a held key was refused"
            );
            let after: Vec<_> = (0..keys).map(|k| table.state(k)).collect();
            assert_eq!(before, after, "a refused key changed the table");

            // Nothing the table holds is idle, by the model's account.
            let at = model.observe(now);
            for k in 0..keys {
                if table.state(k).is_some() {
                    assert!(!limiter.is_idle(&model.states[&k], at), "key {k} was idle");
                }
            }
            continue;
        }

        let want = model.check(op.key, now, op.cost).map_err(KeyedError::Check);
        assert_eq!(got, want, "{op:?} at {now:?}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn a_fixed_table_with_room_is_an_unbounded_map_of_buckets(ops in ops(20, 200)) {
        let mut table: FixedTable<u8, _, 32> = FixedTable::new(bucket());
        agrees_with_model(bucket(), &mut table, &ops, 20, None);
    }

    #[test]
    fn a_fixed_table_with_room_is_an_unbounded_map_of_policies(ops in ops(20, 200)) {
        let mut table: FixedTable<u8, _, 32> = FixedTable::new(mixed());
        agrees_with_model(mixed(), &mut table, &ops, 20, None);
    }

    #[test]
    fn a_growable_table_is_an_unbounded_map(ops in ops(20, 200)) {
        let mut table = GrowableTable::new(mixed());
        agrees_with_model(mixed(), &mut table, &ops, 20, None);
    }

    #[test]
    fn a_shared_table_of_one_shard_is_an_unbounded_map(ops in ops(20, 200)) {
        let mut table = SharedTable::new(mixed(), 1);
        agrees_with_model(mixed(), &mut table, &ops, 20, None);
    }

    /// Each shard remembers its own latest time, so shards agree with a
    /// model that remembers one only while time moves forward.
    #[test]
    fn a_sharded_table_is_an_unbounded_map_while_time_moves_forward(
        ops in ops(20, 200),
    ) {
        let forward: Vec<Op> = ops
            .into_iter()
            .map(|o| Op { step_ms: o.step_ms.abs(), ..o })
            .collect();
        let mut table = SharedTable::new(mixed(), 4).with_max_len_per_shard(100);
        agrees_with_model(mixed(), &mut table, &forward, 20, None);
    }

    #[test]
    fn eviction_never_changes_a_bucket_decision(ops in ops(16, 300)) {
        let mut table: FixedTable<u8, _, 8> = FixedTable::new(bucket());
        agrees_with_model(bucket(), &mut table, &ops, 16, Some(7));
    }

    /// Two groups of 8 slots: keys overflow into the other group, and
    /// sweeps recompute which groups a search must pass.
    #[test]
    fn eviction_across_groups_never_changes_a_bucket_decision(ops in ops(24, 300)) {
        let mut table: FixedTable<u8, _, 16> = FixedTable::new(bucket());
        agrees_with_model(bucket(), &mut table, &ops, 24, Some(14));
    }

    #[test]
    fn eviction_never_changes_a_policy_decision(ops in ops(16, 300)) {
        let mut table: FixedTable<u8, _, 8> = FixedTable::new(mixed());
        agrees_with_model(mixed(), &mut table, &ops, 16, Some(7));
    }

    #[test]
    fn eviction_from_a_bounded_growable_table_never_changes_a_decision(
        ops in ops(16, 300),
    ) {
        let mut table = GrowableTable::new(mixed()).with_max_len(5);
        agrees_with_model(mixed(), &mut table, &ops, 16, Some(5));
    }

    /// Seven keys charged within the first 5 s hold their buckets (burst 5,
    /// one unit per 10 s) past 10 s: an eighth key at 5 to 10 s finds no
    /// idle entry.
    #[test]
    fn a_full_table_without_idle_keys_refuses_a_new_key_and_changes_nothing(
        charges in proptest::collection::vec((0u64..5_000, 1u32..=5), 7),
        probe_ms in 5_000u64..10_000,
        probe_cost in 1u32..=5,
    ) {
        let limit = TokenBucket::new(5, Duration::from_secs(10)).unwrap();
        let mut table: FixedTable<u8, _, 8> = FixedTable::new(limit);
        for (key, (at, cost)) in charges.iter().enumerate() {
            let d = table.check(&(key as u8), Instant::from_millis(*at), *cost).unwrap();
            prop_assert!(d.is_allowed());
        }
        let before: Vec<Option<TokenBucketState>> =
            (0..7u8).map(|k| table.get(&k).copied()).collect();

        let refused = table.check(&100, Instant::from_millis(probe_ms), probe_cost);
        prop_assert_eq!(refused, Err(KeyedError::Full(TableFull { capacity: 7 })));
        let after: Vec<Option<TokenBucketState>> =
            (0..7u8).map(|k| table.get(&k).copied()).collect();
        prop_assert_eq!(before, after);
        prop_assert_eq!(table.len(), 7);
        prop_assert!(table.get(&100).is_none());
    }

    /// The same full table of policies: the refusal is the distinct error
    /// whatever the cost, unless the cost can never fit at all.
    #[test]
    fn a_full_table_of_policies_refuses_with_the_distinct_error(
        costs in proptest::collection::vec(1u32..=3, 7),
        probe_cost in 1u32..=4,
    ) {
        let mut table: FixedTable<u8, _, 8> = FixedTable::new(mixed());
        for (key, cost) in costs.iter().enumerate() {
            table.check(&(key as u8), Instant::ZERO, *cost).unwrap();
        }
        let before: Vec<_> = (0..7u8).map(|k| format!("{:?}", table.get(&k))).collect();
        let got = table.check(&100, Instant::from_secs(1), probe_cost);
        if probe_cost > 3 {
            prop_assert!(matches!(got, Err(KeyedError::Check(_))), "{:?}", got);
        } else {
            prop_assert!(matches!(got, Err(KeyedError::Full(_))), "{:?}", got);
        }
        let after: Vec<_> = (0..7u8).map(|k| format!("{:?}", table.get(&k))).collect();
        prop_assert_eq!(before, after);
    }
}

#[test]
fn a_full_table_with_one_idle_key_evicts_only_that_key() {
    let limit = TokenBucket::new(1, Duration::from_secs(10)).unwrap();
    let mut table: FixedTable<u8, _, 8> = FixedTable::new(limit);
    table.check(&0, Instant::ZERO, 1).unwrap();
    for key in 1..7u8 {
        table.check(&key, Instant::from_secs(5), 1).unwrap();
    }

    // At 10 s key 0's bucket is full again; the others' are not.
    let t = Instant::from_secs(10);
    assert!(table.check(&9, t, 1).unwrap().is_allowed());
    assert!(table.get(&0).is_none());
    assert!((1..7u8).all(|k| table.get(&k).is_some()));
    assert!(matches!(table.check(&10, t, 1), Err(KeyedError::Full(_))));
}

#[test]
fn a_key_evicted_then_seen_with_an_earlier_time_is_judged_at_the_latest() {
    // Key 0 spends its unit at 0 s; at 10 s it is idle and swept away. A
    // request stamped 5 s must not find a fresh bucket at 5 s and slip in
    // twice: it is judged at 10 s, as the unbounded model would judge it.
    let limit = TokenBucket::new(1, Duration::from_secs(10)).unwrap();
    let mut table: FixedTable<u8, _, 8> = FixedTable::new(limit);
    table.check(&0, Instant::ZERO, 1).unwrap();
    assert_eq!(table.sweep(Instant::from_secs(10)), 1);
    assert!(table.get(&0).is_none());

    let late = Instant::from_secs(5);
    assert!(table.check(&0, late, 1).unwrap().is_allowed());
    assert!(!table.check(&0, late, 1).unwrap().is_allowed());
    assert_eq!(table.get(&0).map(|s| s.tat()), Some(Instant::from_secs(20)));
}
